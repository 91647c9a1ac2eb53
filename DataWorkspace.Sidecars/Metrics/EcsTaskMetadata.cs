using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DataWorkspace.Sidecars.Metrics;

/// <summary>
/// Reads the ECS task metadata endpoint v4: <c>/task</c> for the containers' names and the task's identity,
/// <c>/task/stats</c> for each container's Docker stats, keyed by Docker ID.
/// </summary>
public sealed class EcsTaskMetadata(HttpClient http, Uri metadataUri, IReadOnlySet<string> excludedContainers) : IUsageSource
{
    // Containers ECS adds itself (the awsvpc pause container on EC2) are not the user's.
    private const string NormalContainer = "NORMAL";

    // An unlimited cgroup v1 reports a limit near 2^63; then the limit ECS was given is the real one.
    private const ulong UnlimitedMemory = 1UL << 62;

    private readonly string baseAddress = metadataUri.ToString().TrimEnd('/');

    public string Description => baseAddress;

    public async Task<IReadOnlyList<ContainerUsage>> ReadAsync(CancellationToken cancellationToken)
    {
        var task = await GetAsync<TaskMetadata>("/task", cancellationToken);
        var stats = await GetAsync<Dictionary<string, DockerStats?>>("/task/stats", cancellationToken);
        if (task.Containers is null)
            throw new UsageUnavailableException($"{baseAddress}/task has no Containers list.");

        var usage = new List<ContainerUsage>();
        foreach (var container in task.Containers)
        {
            if (container.Name is null || container.DockerId is null || excludedContainers.Contains(container.Name))
                continue;
            if (container.Type is { } type && type != NormalContainer)
                continue;
            // A container not yet started (or already stopped) has null stats: it has no figures to give.
            if (!stats.TryGetValue(container.DockerId, out var containerStats) || containerStats is null)
                continue;
            usage.Add(ToUsage(task, container, containerStats));
        }
        return usage;
    }

    private async Task<T> GetAsync<T>(string path, CancellationToken cancellationToken)
    {
        var address = baseAddress + path;
        try
        {
            using var response = await http.GetAsync(address, cancellationToken);
            if (!response.IsSuccessStatusCode)
                throw new UsageUnavailableException($"{address} answered {(int)response.StatusCode} {response.ReasonPhrase}.");
            return await response.Content.ReadFromJsonAsync<T>(cancellationToken)
                ?? throw new UsageUnavailableException($"{address} answered null instead of a JSON object.");
        }
        catch (HttpRequestException exception)
        {
            throw new UsageUnavailableException($"{address} could not be read: {exception.Message}", exception);
        }
        catch (JsonException exception)
        {
            throw new UsageUnavailableException($"{address} did not answer the task metadata JSON expected: {exception.Message}", exception);
        }
        catch (TaskCanceledException exception) when (!cancellationToken.IsCancellationRequested)
        {
            throw new UsageUnavailableException($"{address} did not answer within {http.Timeout.TotalSeconds:0.#} s.", exception);
        }
    }

    private static ContainerUsage ToUsage(TaskMetadata task, ContainerMetadata container, DockerStats stats)
    {
        var labels = new List<KeyValuePair<string, object?>> { new(MetricLabels.Container, container.Name) };
        AddLabel(labels, MetricLabels.TaskArn, task.TaskArn);
        AddLabel(labels, MetricLabels.Cluster, task.Cluster);
        AddLabel(labels, MetricLabels.TaskFamily, task.Family);
        AddLabel(labels, MetricLabels.TaskRevision, task.Revision);

        var cpu = stats.CpuStats;
        var memory = stats.MemoryStats;
        var usageBytes = Bytes(memory?.Usage);
        // cgroup v1 names the figure total_inactive_file, cgroup v2 inactive_file; docker stats subtracts it the same way.
        var inactiveFile = memory?.Stats is { } detail
            ? detail.GetValueOrDefault("total_inactive_file", detail.GetValueOrDefault("inactive_file"))
            : 0;
        return new ContainerUsage(labels)
        {
            CpuSeconds = (cpu?.CpuUsage?.TotalUsage ?? 0) / 1e9,
            Throttling = cpu?.ThrottlingData is { } throttling
                ? new CpuThrottling(Bytes(throttling.Periods), Bytes(throttling.ThrottledPeriods), (throttling.ThrottledTime ?? 0) / 1e9)
                : null,
            MemoryUsageBytes = usageBytes,
            MemoryWorkingSetBytes = Math.Max(0, usageBytes - Bytes(inactiveFile)),
            MemoryLimitBytes = memory?.Limit is { } limit and > 0 and < UnlimitedMemory
                ? Bytes(limit)
                : MegabytesLimit(container.Limits?.Memory) ?? MegabytesLimit(task.Limits?.Memory),
            BlockReadBytes = SumOperation(stats.BlkioStats?.IoServiceBytesRecursive, "read"),
            BlockWriteBytes = SumOperation(stats.BlkioStats?.IoServiceBytesRecursive, "write"),
            Network = (stats.Networks ?? [])
                .OrderBy(pair => pair.Key, StringComparer.Ordinal)
                .Select(pair => new InterfaceTraffic(pair.Key, Bytes(pair.Value.RxBytes), Bytes(pair.Value.TxBytes), Bytes(pair.Value.RxPackets), Bytes(pair.Value.TxPackets)))
                .ToList(),
        };
    }

    private static void AddLabel(List<KeyValuePair<string, object?>> labels, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
            labels.Add(new(name, value));
    }

    private static long? MegabytesLimit(long? megabytes) => megabytes is > 0 ? megabytes * 1024 * 1024 : null;

    // Docker reports unsigned 64-bit figures; an unlimited cgroup's limit can exceed what a long holds.
    private static long Bytes(ulong? value) => value is { } v ? (long)Math.Min(v, long.MaxValue) : 0;

    private static long SumOperation(IReadOnlyList<BlkioEntry>? entries, string operation) =>
        // cgroup v1 writes "Read"/"Write", cgroup v2 "read"/"write".
        entries?.Where(entry => string.Equals(entry.Op, operation, StringComparison.OrdinalIgnoreCase)).Sum(entry => Bytes(entry.Value)) ?? 0;

    private sealed record TaskMetadata(
        [property: JsonPropertyName("Cluster")] string? Cluster,
        [property: JsonPropertyName("TaskARN")] string? TaskArn,
        [property: JsonPropertyName("Family")] string? Family,
        [property: JsonPropertyName("Revision")] string? Revision,
        [property: JsonPropertyName("Limits")] TaskLimits? Limits,
        [property: JsonPropertyName("Containers")] IReadOnlyList<ContainerMetadata>? Containers);

    private sealed record ContainerMetadata(
        [property: JsonPropertyName("DockerId")] string? DockerId,
        [property: JsonPropertyName("Name")] string? Name,
        [property: JsonPropertyName("Type")] string? Type,
        [property: JsonPropertyName("Limits")] ContainerLimits? Limits);

    // The task's memory is in MiB; its CPU in vCPUs, which may be fractional.
    private sealed record TaskLimits([property: JsonPropertyName("Memory")] long? Memory);

    private sealed record ContainerLimits([property: JsonPropertyName("Memory")] long? Memory);

    private sealed record DockerStats(
        [property: JsonPropertyName("cpu_stats")] CpuStats? CpuStats,
        [property: JsonPropertyName("memory_stats")] MemoryStats? MemoryStats,
        [property: JsonPropertyName("blkio_stats")] BlkioStats? BlkioStats,
        [property: JsonPropertyName("networks")] Dictionary<string, NetworkStats>? Networks);

    private sealed record CpuStats(
        [property: JsonPropertyName("cpu_usage")] CpuUsage? CpuUsage,
        [property: JsonPropertyName("throttling_data")] ThrottlingData? ThrottlingData);

    private sealed record CpuUsage([property: JsonPropertyName("total_usage")] ulong? TotalUsage);

    private sealed record ThrottlingData(
        [property: JsonPropertyName("periods")] ulong? Periods,
        [property: JsonPropertyName("throttled_periods")] ulong? ThrottledPeriods,
        [property: JsonPropertyName("throttled_time")] ulong? ThrottledTime);

    private sealed record MemoryStats(
        [property: JsonPropertyName("usage")] ulong? Usage,
        [property: JsonPropertyName("limit")] ulong? Limit,
        [property: JsonPropertyName("stats")] Dictionary<string, ulong>? Stats);

    private sealed record BlkioStats([property: JsonPropertyName("io_service_bytes_recursive")] IReadOnlyList<BlkioEntry>? IoServiceBytesRecursive);

    private sealed record BlkioEntry(
        [property: JsonPropertyName("op")] string? Op,
        [property: JsonPropertyName("value")] ulong? Value);

    private sealed record NetworkStats(
        [property: JsonPropertyName("rx_bytes")] ulong? RxBytes,
        [property: JsonPropertyName("tx_bytes")] ulong? TxBytes,
        [property: JsonPropertyName("rx_packets")] ulong? RxPackets,
        [property: JsonPropertyName("tx_packets")] ulong? TxPackets);
}

/// <summary>The labels every series carries, so a graph can pick a container and a task.</summary>
public static class MetricLabels
{
    public const string Container = "container";
    public const string TaskArn = "task_arn";
    public const string Cluster = "cluster";
    public const string TaskFamily = "task_family";
    public const string TaskRevision = "task_revision";
    public const string Interface = "interface";
}
