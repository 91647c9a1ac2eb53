using System.Diagnostics.Metrics;
using DataWorkspace.Web.Telemetry;

namespace DataWorkspace.Web.Explorer;

/// <summary>
/// The Data Explorer's instruments on the web app's meter: queries running in this replica, those cancelled and those
/// failed, and how long each ran (by how it ended).
/// </summary>
public sealed class ExplorerInstruments
{
    private readonly UpDownCounter<long> running;
    private readonly Counter<long> cancelled;
    private readonly Counter<long> failed;
    private readonly Histogram<double> duration;

    public ExplorerInstruments(IMeterFactory meters)
    {
        var meter = meters.WebMeter();
        running = meter.CreateUpDownCounter<long>("dataworkspace.explorer.queries.running", "{query}", "Data Explorer queries running now.");
        cancelled = meter.CreateCounter<long>("dataworkspace.explorer.queries.cancelled", "{query}", "Data Explorer queries cancelled by their user.");
        failed = meter.CreateCounter<long>("dataworkspace.explorer.queries.failed", "{query}", "Data Explorer queries that failed (an error in the SQL, the database unreachable).");
        duration = meter.CreateHistogram("dataworkspace.explorer.query.duration", "s",
            "How long Data Explorer queries ran, rows stored included, by status: completed, failed or cancelled.", advice: new InstrumentAdvice<double>
            {
                HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
            });
    }

    public void Started() => running.Add(1);

    public void Ended(QueryStatus status, TimeSpan elapsed)
    {
        running.Add(-1);
        if (status == QueryStatus.Cancelled) cancelled.Add(1);
        else if (status == QueryStatus.Failed) failed.Add(1);
        duration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("status", StatusTag(status)));
    }

    public static string StatusTag(QueryStatus status) => status.ToString().ToLowerInvariant();
}
