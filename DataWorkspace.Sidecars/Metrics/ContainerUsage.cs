namespace DataWorkspace.Sidecars.Metrics;

/// <summary>One container's (or, locally, one process tree's) resource use at a moment, as cumulative totals and current levels.</summary>
public sealed record ContainerUsage(IReadOnlyList<KeyValuePair<string, object?>> Labels)
{
    public double CpuSeconds { get; init; }

    /// <summary>CFS scheduler periods and the ones in which the container was throttled; null where the source has none (a local process).</summary>
    public CpuThrottling? Throttling { get; init; }

    /// <summary>All memory charged to the container, page cache included.</summary>
    public long MemoryUsageBytes { get; init; }

    /// <summary>Memory that cannot be reclaimed without swapping: usage less inactive file pages (what the kernel's OOM killer weighs).</summary>
    public long MemoryWorkingSetBytes { get; init; }

    public long? MemoryLimitBytes { get; init; }

    public long BlockReadBytes { get; init; }

    public long BlockWriteBytes { get; init; }

    /// <summary>Per network interface; empty where the source has none (a local process shares the host's interfaces).</summary>
    public IReadOnlyList<InterfaceTraffic> Network { get; init; } = [];
}

public sealed record CpuThrottling(long Periods, long ThrottledPeriods, double ThrottledSeconds);

public sealed record InterfaceTraffic(string Interface, long ReceiveBytes, long TransmitBytes, long ReceivePackets, long TransmitPackets);

/// <summary>Where resource use comes from: the ECS task metadata endpoint, or /proc for a locally run tool.</summary>
public interface IUsageSource
{
    /// <summary>A short description for logs, e.g. the metadata address or the process id.</summary>
    string Description { get; }

    /// <summary>The current figures of every watched container; throws <see cref="UsageUnavailableException"/> when they cannot be read.</summary>
    Task<IReadOnlyList<ContainerUsage>> ReadAsync(CancellationToken cancellationToken);
}

public sealed class UsageUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
