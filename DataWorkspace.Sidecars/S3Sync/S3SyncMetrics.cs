using System.Diagnostics.Metrics;

namespace DataWorkspace.Sidecars.S3Sync;

/// <summary>The s3sync sidecar's counters and its heartbeat, on a meter that OpenTelemetry (or dotnet-counters) can listen to.</summary>
public sealed class S3SyncMetrics
{
    public const string MeterName = "DataWorkspace.Sidecars.S3Sync";

    private readonly Counter<long> transfers;
    private readonly Counter<long> bytes;
    private readonly Counter<long> deletes;
    private readonly Counter<long> conflicts;
    private readonly Counter<long> failures;
    private readonly Counter<long> skipped;
    private long lastSuccessUnixMilliseconds;

    public S3SyncMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        transfers = meter.CreateCounter<long>("s3sync.transfers", "{file}", "Files copied, by direction (upload, download)");
        bytes = meter.CreateCounter<long>("s3sync.bytes", "By", "Bytes copied, by direction");
        deletes = meter.CreateCounter<long>("s3sync.deletes", "{path}", "Deletions propagated, by where they were done (local, remote)");
        conflicts = meter.CreateCounter<long>("s3sync.conflicts", "{file}", "Paths changed on both sides, both versions kept");
        failures = meter.CreateCounter<long>("s3sync.failures", "{round}", "Sync rounds that failed (S3 unreachable, refusing or erring) and will be retried");
        skipped = meter.CreateCounter<long>("s3sync.skipped", "{path}", "Paths left out because S3 or the local file system cannot hold their names");
        meter.CreateObservableGauge("s3sync.last_success", () => Interlocked.Read(ref lastSuccessUnixMilliseconds) / 1000.0, "s",
            "Heartbeat: when a sync round last succeeded, in seconds since 1970 (0 before the first)");
    }

    public void Transferred(string direction, long size)
    {
        transfers.Add(1, new KeyValuePair<string, object?>("direction", direction));
        bytes.Add(size, new KeyValuePair<string, object?>("direction", direction));
    }

    public void Deleted(string where) => deletes.Add(1, new KeyValuePair<string, object?>("where", where));

    public void Conflict() => conflicts.Add(1);

    public void Failed(string reason) => failures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Skipped(string reason) => skipped.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Succeeded(DateTimeOffset at) => Interlocked.Exchange(ref lastSuccessUnixMilliseconds, at.ToUnixTimeMilliseconds());
}
