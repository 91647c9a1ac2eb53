using System.Diagnostics.Metrics;

namespace DataWorkspace.Proxy.Tools;

/// <summary>
/// Meters no collector subscribes to: their instruments stay disabled, so what records into them costs a flag check.
/// The name is outside every prefix the platform's telemetry collects (<c>DataWorkspace.*</c>, <c>System.*</c>).
/// </summary>
internal sealed class UncollectedMeters : IMeterFactory
{
    public static readonly UncollectedMeters Instance = new();

    private readonly Meter meter = new("Uncollected.ToolTraffic");

    public Meter Create(MeterOptions options) => meter;

    public void Dispose()
    {
    }
}
