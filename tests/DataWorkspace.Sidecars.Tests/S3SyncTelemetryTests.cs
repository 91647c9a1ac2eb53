using System.Diagnostics;
using System.Globalization;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using DataWorkspace.TestSupport;
using static DataWorkspace.Sidecars.Tests.PrometheusText;

namespace DataWorkspace.Sidecars.Tests;

/// <summary>The real <c>dataworkspace-sidecar s3sync</c> executable's counters and heartbeat, scraped from its health port as Prometheus would.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class S3SyncTelemetryTests(MotoServer aws) : IClassFixture<MotoServer>
{
    private const string Prefix = "home/u1/";
    // A port found free can be taken by another process before the sidecar binds it: it then tries another.
    private const int StartAttempts = 5;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_health_port_serves_the_transfers_and_the_heartbeat_as_prometheus_text()
    {
        var bucket = "telemetry-" + Guid.NewGuid().ToString("N")[..12];
        var local = Directory.CreateTempSubdirectory("s3sync-telemetry-").FullName;
        using var s3 = new AmazonS3Client(new BasicAWSCredentials(MotoServer.AccessKeyId, MotoServer.SecretAccessKey),
            new AmazonS3Config { ServiceURL = aws.Url.ToString(), ForcePathStyle = true, AuthenticationRegion = MotoServer.Region });
        await s3.PutBucketAsync(bucket, Cancellation);
        await File.WriteAllTextAsync(Path.Combine(local, "written-here.txt"), "up", Cancellation);
        await s3.PutObjectAsync(new() { BucketName = bucket, Key = Prefix + "written-there.txt", ContentBody = "down" }, Cancellation);
        var startedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        var (process, port, output) = await StartAsync(bucket, local);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            List<Series> series = [];
            string text = "";
            var deadline = DateTime.UtcNow.AddSeconds(60);
            // The first round both uploads and downloads; the heartbeat is set when it ends.
            while (!series.Any(s => s.Name == "s3sync_last_success_seconds" && s.Value > 0))
            {
                Assert.True(DateTime.UtcNow < deadline, $"No heartbeat within 60 s. Last scrape:\n{text}\nSidecar:\n{output}");
                await Task.Delay(200, Cancellation);
                text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics", Cancellation);
                series = Parse(text);
            }

            Assert.Equal(1, Value(series, "s3sync_transfers_total", KeyValuePair.Create("direction", "upload")));
            Assert.Equal(1, Value(series, "s3sync_transfers_total", KeyValuePair.Create("direction", "download")));
            Assert.InRange(Value(series, "s3sync_last_success_seconds"), startedAt - 5, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 5);
            Assert.Equal(1, Value(series, "target_info", KeyValuePair.Create("service_name", "dataworkspace-s3sync-sidecar")));
            await AssertPromtoolAcceptsAsync(text);
        }
        finally
        {
            using (var kill = Process.Start("bash", ["-c", $"kill -TERM {process.Id.ToString(CultureInfo.InvariantCulture)}"]))
                await kill.WaitForExitAsync(CancellationToken.None);
            await process.WaitForExitAsync(CancellationToken.None);
            process.Dispose();
            TestDirectories.Delete(local);
        }
    }

    /// <summary>The sidecar as a tool's container runs it, its health port one free at the time (another is tried if it was taken meanwhile).</summary>
    private async Task<(Process Process, int HealthPort, StringBuilder Output)> StartAsync(string bucket, string local)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = Ports.Free();
            var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "dataworkspace-sidecar.dll"), "s3sync", "--local", local,
                "--health-port", port.ToString(CultureInfo.InvariantCulture), "--poll-interval", "1", "--quiet-period", "0"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var name in new[] { "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_PROFILE", "S3SYNC_EXCLUDE", "S3SYNC_STATE_FILE", "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT" })
                start.Environment.Remove(name);
            start.Environment["AWS_ACCESS_KEY_ID"] = MotoServer.AccessKeyId;
            start.Environment["AWS_SECRET_ACCESS_KEY"] = MotoServer.SecretAccessKey;
            start.Environment["AWS_REGION"] = MotoServer.Region;
            start.Environment["AWS_ENDPOINT_URL_S3"] = aws.Url.ToString();
            start.Environment["S3_BUCKET"] = bucket;
            start.Environment["S3_PREFIX"] = Prefix;
            var process = Process.Start(start)!;
            var output = new StringBuilder();
            process.OutputDataReceived += (_, line) => { lock (output) output.AppendLine(line.Data); };
            process.ErrorDataReceived += (_, line) => { lock (output) output.AppendLine(line.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!process.HasExited && DateTime.UtcNow < deadline)
            {
                try
                {
                    using var health = await http.GetAsync($"http://127.0.0.1:{port}/health", Cancellation);
                    return (process, port, output);
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(100, Cancellation);
                }
            }
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"s3sync did not answer on its health port within 60 s: {output}");
            }
            if (process.ExitCode != SidecarHosting.CannotStartExitCode || attempt == StartAttempts)
                Assert.Fail($"s3sync exited with {process.ExitCode} before answering on its health port: {output}");
            process.Dispose();
        }
    }
}
