using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using DataWorkspace.Sidecars.S3Sync;
using Microsoft.Extensions.Hosting;

namespace DataWorkspace.Sidecars;

/// <summary><c>s3sync --local DIR</c>: keeps the tool's home folder and the user's S3 prefix in step, until stopped.</summary>
public static class S3SyncCommand
{
    public const int BadSettingsExitCode = SidecarHosting.BadSettingsExitCode;
    public const int CannotListenExitCode = SidecarHosting.CannotStartExitCode;

    private const string Description = """
        Keeps a local folder (the tool's home) and an S3 prefix in step, both ways. At start it downloads what is new in
        S3 and uploads what is new locally; then each local file is uploaded once it has been quiet for a moment after a
        write (again if it changed during the upload), and S3 is listed every poll interval for others' changes (by
        ETag). Deletions and renames go both ways, folders are kept as empty 'name/' objects, and each file's mtime and
        mode travel in the object's metadata (x-amz-meta-mtime, seconds since 1970; x-amz-meta-mode, octal).

        Nothing is lost: when both sides changed a file, the newer version keeps the name and the older is kept as
        'name (conflict <UTC time>).ext'; a file changed locally in the last --quiet-period seconds is never
        overwritten or deleted from S3; a deletion is passed on only for a path synced before and unchanged since on the
        other side (a small state file remembers, by default in .s3sync/ in the folder, never synced), so a restart
        keeps local changes made while stopped; S3 errors and a missing bucket are an outage, retried with backoff, and
        in the first listing after one (or any empty listing) files missing from S3 are uploaded again, never deleted
        locally: S3 may have lost them. On SIGTERM the transfers under way and local changes not yet sent are
        finished, then it exits 0.

        Logs are JSON lines on standard output; the counters and the heartbeat (s3sync.last_success) are on the meter
        DataWorkspace.Sidecars.S3Sync, as Prometheus text at GET /metrics on the health port, and sent with the logs
        over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set. GET /health answers 503 with the reason once no sync round
        has succeeded for three poll intervals.

        Credentials come from the AWS SDK's default chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, or
        AWS_CONTAINER_CREDENTIALS_FULL_URI (with AWS_CONTAINER_AUTHORIZATION_TOKEN), which renews them, as tools get.

        Example, as beside a tool:
          S3_BUCKET=files S3_PREFIX=home/abc123/ AWS_REGION=eu-west-2 \
            dataworkspace-sidecar s3sync --local /home/jovyan --poll-interval 10 --health-port 8887
        """;

    public static Command Create()
    {
        var local = new Option<string?>("--local")
        {
            Description = "The folder to keep in step with S3 [env S3SYNC_LOCAL]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("S3SYNC_LOCAL"),
        };
        var bucket = new Option<string?>("--bucket")
        {
            Description = "The bucket [env S3_BUCKET]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("S3_BUCKET"),
        };
        var prefix = new Option<string?>("--prefix")
        {
            Description = "The prefix in the bucket, e.g. home/abc123/ [env S3_PREFIX]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("S3_PREFIX"),
        };
        var region = new Option<string?>("--region")
        {
            Description = "The bucket's region [env AWS_REGION, AWS_DEFAULT_REGION]",
            DefaultValueFactory = _ => FirstOf("AWS_REGION", "AWS_DEFAULT_REGION"),
        };
        var endpoint = new Option<string?>("--endpoint")
        {
            Description = "An S3 endpoint other than AWS's, e.g. an emulator [env AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL]",
            DefaultValueFactory = _ => FirstOf("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
        };
        var stateFile = new Option<string?>("--state-file")
        {
            Description = "Where to remember what was synced; default .s3sync/state.json in the folder, never synced [env S3SYNC_STATE_FILE]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("S3SYNC_STATE_FILE"),
        };
        var excludes = new Option<string[]>("--exclude")
        {
            Description = $"A name or glob left out both ways (a pattern with / matches from the folder's top); repeat for more; given ones replace the default: {string.Join(", ", S3SyncSettings.DefaultExcludes)} [env S3SYNC_EXCLUDE, comma-separated]",
            Arity = ArgumentArity.ZeroOrMore,
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("S3SYNC_EXCLUDE") is { Length: > 0 } value ? [value] : S3SyncSettings.DefaultExcludes,
        };
        var pollInterval = new Option<double>("--poll-interval")
        {
            Description = "Seconds between listings of S3 for others' changes [env S3SYNC_POLL_INTERVAL]",
            DefaultValueFactory = _ => Seconds("S3SYNC_POLL_INTERVAL", 10),
        };
        var quietPeriod = new Option<double>("--quiet-period")
        {
            Description = "A local file changed this many seconds ago or less is never overwritten or deleted from S3 [env S3SYNC_QUIET_PERIOD]",
            DefaultValueFactory = _ => Seconds("S3SYNC_QUIET_PERIOD", 10),
        };
        var healthPort = new Option<string?>("--health-port")
        {
            Description = $"Serve GET {S3SyncHost.HealthPath} over HTTP on this port; no endpoint if omitted [env S3SYNC_HEALTH_PORT]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("S3SYNC_HEALTH_PORT"),
        };
        var healthAddress = new Option<string?>("--health-address")
        {
            Description = "The address the health endpoint listens on [env S3SYNC_HEALTH_ADDRESS]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("S3SYNC_HEALTH_ADDRESS") is { Length: > 0 } value ? value : "127.0.0.1",
        };
        var multipartThreshold = new Option<int>("--multipart-threshold-mb")
        {
            Description = "Files of this many MiB or more are uploaded in 16 MiB parts (or larger, for files over 160 GiB)",
            DefaultValueFactory = _ => 64,
        };
        var command = new Command("s3sync", Description)
        {
            local, bucket, prefix, region, endpoint, stateFile, excludes, pollInterval, quietPeriod, healthPort, healthAddress, multipartThreshold,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var settings = S3SyncSettings.Create(
                parseResult.GetValue(local), parseResult.GetValue(bucket), parseResult.GetValue(prefix), parseResult.GetValue(region),
                parseResult.GetValue(endpoint), parseResult.GetValue(stateFile), parseResult.GetValue(excludes) ?? [],
                parseResult.GetValue(pollInterval), parseResult.GetValue(quietPeriod), parseResult.GetValue(healthPort), parseResult.GetValue(healthAddress),
                out var problems);
            var threshold = parseResult.GetValue(multipartThreshold);
            if (threshold is < 1 or > 5 * 1024)
            {
                problems = [.. problems, $"--multipart-threshold-mb must be from 1 to 5120 (S3's largest single upload); {threshold} is not."];
                settings = null;
            }
            if (settings is null) return SidecarHosting.BadSettings(problems, "s3sync");

            settings = settings with { MultipartThreshold = threshold * 1024L * 1024 };
            using var host = S3SyncHost.Build(settings);
            return await SidecarHosting.RunAsync(host, $"s3sync cannot start", cancellationToken);
        });
        return command;
    }

    private static string? FirstOf(params string[] names) =>
        names.Select(Environment.GetEnvironmentVariable).FirstOrDefault(value => !string.IsNullOrWhiteSpace(value));

    private static double Seconds(string name, double fallback) =>
        double.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : fallback;
}
