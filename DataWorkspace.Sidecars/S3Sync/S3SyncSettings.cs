using System.Globalization;

namespace DataWorkspace.Sidecars.S3Sync;

/// <summary>How the s3sync sidecar runs: which folder, which bucket and prefix, how often it looks at S3, and what it leaves out.</summary>
public sealed record S3SyncSettings(
    string LocalDirectory,
    string Bucket,
    string Prefix,
    string Region,
    Uri? Endpoint,
    string StateFile,
    ExcludePatterns Excludes)
{
    public static readonly string[] DefaultExcludes = [".ipynb_checkpoints", "__pycache__", "*.swp", ".~*"];

    /// <summary>The folder inside the synced folder that holds the default state file; never synced.</summary>
    public const string StateFolderName = ".s3sync";

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan QuietPeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a local file must see no change before it counts as closed and is uploaded.</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(200);

    public int? HealthPort { get; init; }

    public string HealthAddress { get; init; } = "127.0.0.1";

    /// <summary>Files at least this large go up in parts.</summary>
    public long MultipartThreshold { get; init; } = 64L * 1024 * 1024;

    public int Parallelism { get; init; } = 10;

    /// <summary>Sync is unhealthy when no round has succeeded for this long.</summary>
    public TimeSpan StuckAfter => PollInterval * 3;

    /// <summary>Settings from the command line and environment, or every problem with them.</summary>
    public static S3SyncSettings? Create(
        string? local, string? bucket, string? prefix, string? region, string? endpoint, string? stateFile, IReadOnlyList<string> excludes,
        double pollIntervalSeconds, double quietPeriodSeconds, string? healthPort, string? healthAddress, out IReadOnlyList<string> problems)
    {
        var found = new List<string>();
        string localDirectory = "";
        if (string.IsNullOrWhiteSpace(local))
            found.Add("No local folder: give --local DIR (or S3SYNC_LOCAL), the folder to keep in step with S3, e.g. the tool's home.");
        else if (File.Exists(local))
            found.Add($"--local {local} is a file: give the folder to keep in step with S3.");
        else
        {
            // The tool's launcher may still be making the home folder: made here if missing, so start order does not matter.
            try
            {
                localDirectory = Directory.CreateDirectory(local).FullName.TrimEnd('/');
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                found.Add($"--local {local} does not exist and cannot be made: {exception.Message}");
            }
        }
        if (string.IsNullOrWhiteSpace(bucket))
            found.Add("No bucket: give --bucket (or S3_BUCKET), the bucket that holds the user's home prefix.");
        if (string.IsNullOrWhiteSpace(region))
            found.Add("No region: give --region (or AWS_REGION), e.g. eu-west-2.");
        var normalPrefix = (prefix ?? "").Trim().TrimStart('/');
        if (normalPrefix.Length > 0 && !normalPrefix.EndsWith('/'))
            normalPrefix += "/";
        Uri? endpointUri = null;
        if (!string.IsNullOrWhiteSpace(endpoint) && (!Uri.TryCreate(endpoint, UriKind.Absolute, out endpointUri) || endpointUri.Scheme is not ("http" or "https")))
            found.Add($"--endpoint must be an absolute http or https address, e.g. http://127.0.0.1:5000; '{endpoint}' is not.");
        if (pollIntervalSeconds is < 0.1 or > 3600)
            found.Add($"--poll-interval must be from 0.1 to 3600 seconds; {pollIntervalSeconds.ToString(CultureInfo.InvariantCulture)} is not.");
        if (quietPeriodSeconds is < 0 or > 3600)
            found.Add($"--quiet-period must be from 0 to 3600 seconds; {quietPeriodSeconds.ToString(CultureInfo.InvariantCulture)} is not.");
        int? port = null;
        if (!string.IsNullOrWhiteSpace(healthPort))
        {
            if (int.TryParse(healthPort, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number is >= 1 and <= 65535)
                port = number;
            else
                found.Add($"--health-port must be a port number from 1 to 65535; '{healthPort}' is not.");
        }
        var patterns = ExcludePatterns.Create(excludes, out var patternProblem);
        if (patternProblem is not null)
            found.Add(patternProblem);

        problems = found;
        if (found.Count > 0)
            return null;
        var state = string.IsNullOrWhiteSpace(stateFile) ? Path.Combine(localDirectory, StateFolderName, "state.json") : Path.GetFullPath(stateFile);
        return new S3SyncSettings(localDirectory, bucket!.Trim(), normalPrefix, region!.Trim(), endpointUri, state, patterns!)
        {
            PollInterval = TimeSpan.FromSeconds(pollIntervalSeconds),
            QuietPeriod = TimeSpan.FromSeconds(quietPeriodSeconds),
            HealthPort = port,
            HealthAddress = string.IsNullOrWhiteSpace(healthAddress) ? "127.0.0.1" : healthAddress.Trim(),
        };
    }
}
