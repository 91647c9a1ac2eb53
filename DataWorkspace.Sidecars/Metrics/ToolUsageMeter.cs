using System.Diagnostics.Metrics;

namespace DataWorkspace.Sidecars.Metrics;

/// <summary>
/// The tool's figures as observable instruments, read from <see cref="ToolUsage"/> whenever the exporter collects.
/// Names follow cAdvisor's (container_cpu_usage_seconds_total, container_memory_working_set_bytes...) once the
/// Prometheus exporter adds unit and _total suffixes, so dashboards written for containers elsewhere work here.
/// </summary>
public sealed class ToolUsageMeter
{
    public const string MeterName = "DataWorkspace.Sidecars.Metrics";

    public ToolUsageMeter(IMeterFactory meterFactory, ToolUsage usage)
    {
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableCounter("container.cpu.usage", () => Each(usage, c => c.CpuSeconds), "s",
            "CPU time used by the container, all cores, user and system");
        meter.CreateObservableCounter("container.cpu.cfs.periods", () => Throttling(usage, t => t.Periods), "{period}",
            "CFS enforcement periods that have elapsed while the container ran");
        meter.CreateObservableCounter("container.cpu.cfs.throttled.periods", () => Throttling(usage, t => t.ThrottledPeriods), "{period}",
            "CFS periods in which the container used its CPU limit up and was throttled");
        meter.CreateObservableCounter("container.cpu.cfs.throttled", () => Throttling(usage, t => t.ThrottledSeconds), "s",
            "Time the container spent throttled at its CPU limit");
        meter.CreateObservableGauge("container.memory.usage", () => Each(usage, c => c.MemoryUsageBytes), "By",
            "Memory charged to the container, page cache included");
        meter.CreateObservableGauge("container.memory.working_set", () => Each(usage, c => c.MemoryWorkingSetBytes), "By",
            "Memory the container is using that cannot be reclaimed: usage less inactive file pages");
        meter.CreateObservableGauge("container.spec.memory.limit", () => Limits(usage), "By",
            "The container's memory limit");
        meter.CreateObservableCounter("container.fs.reads", () => Each(usage, c => c.BlockReadBytes), "By",
            "Bytes read from block devices");
        meter.CreateObservableCounter("container.fs.writes", () => Each(usage, c => c.BlockWriteBytes), "By",
            "Bytes written to block devices");
        meter.CreateObservableCounter("container.network.receive", () => Network(usage, n => n.ReceiveBytes), "By",
            "Bytes received, by network interface");
        meter.CreateObservableCounter("container.network.transmit", () => Network(usage, n => n.TransmitBytes), "By",
            "Bytes sent, by network interface");
        meter.CreateObservableCounter("container.network.receive.packets", () => Network(usage, n => n.ReceivePackets), "{packet}",
            "Packets received, by network interface");
        meter.CreateObservableCounter("container.network.transmit.packets", () => Network(usage, n => n.TransmitPackets), "{packet}",
            "Packets sent, by network interface");
        meter.CreateObservableCounter("metrics_sidecar.scrape_errors", () => usage.Errors, "{error}",
            "Times the source (task metadata endpoint or /proc) could not be read; the figures above are then the last good ones");
        meter.CreateObservableGauge("metrics_sidecar.last_success_timestamp", LastSuccess, "s",
            "When the source was last read successfully, in seconds since the Unix epoch");

        IEnumerable<Measurement<double>> LastSuccess() =>
            usage.LastSuccess is { } at ? [new Measurement<double>(at.ToUnixTimeMilliseconds() / 1000.0)] : [];
    }

    private static IEnumerable<Measurement<T>> Each<T>(ToolUsage usage, Func<ContainerUsage, T> value) where T : struct =>
        usage.Containers.Select(container => new Measurement<T>(value(container), container.Labels));

    private static IEnumerable<Measurement<T>> Throttling<T>(ToolUsage usage, Func<CpuThrottling, T> value) where T : struct =>
        usage.Containers.Where(c => c.Throttling is not null).Select(c => new Measurement<T>(value(c.Throttling!), c.Labels));

    private static IEnumerable<Measurement<long>> Limits(ToolUsage usage) =>
        usage.Containers.Where(c => c.MemoryLimitBytes is not null).Select(c => new Measurement<long>(c.MemoryLimitBytes!.Value, c.Labels));

    private static IEnumerable<Measurement<long>> Network(ToolUsage usage, Func<InterfaceTraffic, long> value) =>
        usage.Containers.SelectMany(c => c.Network.Select(n =>
            new Measurement<long>(value(n), [.. c.Labels, new(MetricLabels.Interface, n.Interface)])));
}
