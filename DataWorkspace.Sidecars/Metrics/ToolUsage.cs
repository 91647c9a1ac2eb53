using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Sidecars.Metrics;

/// <summary>
/// The last figures read from the source, refreshed once per scrape (concurrent scrapes share one read). When the
/// source cannot be read, the last good figures stay and the error count rises, so a graph keeps its line and an
/// alert can fire on the errors.
/// </summary>
public sealed class ToolUsage(IUsageSource source, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<ToolUsage> logger)
{
    private readonly Lock gate = new();
    private Task? refreshing;
    private long errors;
    private bool failing;

    public IReadOnlyList<ContainerUsage> Containers { get; private set; } = [];

    public long Errors => Interlocked.Read(ref errors);

    /// <summary>When the source was last read successfully; null before the first success.</summary>
    public DateTimeOffset? LastSuccess { get; private set; }

    /// <summary>Reads the source, or joins the read under way; never throws for an unreadable source.</summary>
    public Task RefreshAsync()
    {
        lock (gate)
        {
            if (refreshing is null || refreshing.IsCompleted)
                refreshing = ReadAsync(lifetime.ApplicationStopping);
            return refreshing;
        }
    }

    private async Task ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            var containers = await source.ReadAsync(cancellationToken);
            var first = LastSuccess is null;
            Containers = containers;
            LastSuccess = time.GetUtcNow();
            if (first || failing)
                MetricsLog.Read(logger, source.Description, containers.Count, string.Join(", ", containers.Select(Name)));
            failing = false;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: the scrape under way gets the last figures.
        }
        catch (Exception exception)
        {
            // Whatever went wrong (an odd answer, a /proc file in flux), the scrape still gets the last figures.
            Interlocked.Increment(ref errors);
            failing = true;
            var problem = exception is UsageUnavailableException ? exception.Message : $"{exception.GetType().Name}: {exception.Message}";
            MetricsLog.SourceFailed(logger, source.Description, Containers.Count, problem);
        }
    }

    private static string Name(ContainerUsage usage) =>
        usage.Labels.FirstOrDefault(label => label.Key == MetricLabels.Container).Value?.ToString() ?? "?";
}
