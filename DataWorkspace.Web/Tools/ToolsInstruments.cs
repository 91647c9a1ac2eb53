using System.Diagnostics;
using System.Diagnostics.Metrics;
using DataWorkspace.Contracts;
using DataWorkspace.Web.Telemetry;
using DataWorkspace.Web.Time;
using Npgsql;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// The tools' instruments on the web app's meter: how long each stage of a spawn takes
/// (<c>dataworkspace.tools.spawn.duration</c>, by stage and launcher), the tools running (by launcher, from the
/// instances table, read at most every few seconds) and the culling job's stops (by reason).
/// </summary>
public sealed class ToolsInstruments : IHostedService
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(5);
    private readonly Histogram<double> spawnDuration;
    private readonly Counter<long> culls;

    public ToolsInstruments(IMeterFactory meters, NpgsqlDataSource catalogue, ILauncher launcher,
        [FromKeyedServices(Clock.Real)] TimeProvider time, ILogger<ToolsInstruments> logger)
    {
        var meter = meters.WebMeter();
        spawnDuration = meter.CreateHistogram("dataworkspace.tools.spawn.duration", "s",
            "How long each stage of starting a tool took, by stage and launcher; error.type names a stage that failed.", advice: new InstrumentAdvice<double>
            {
                HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
            });
        culls = meter.CreateCounter<long>("dataworkspace.tools.culls", "{tool}",
            "Tools the culling job stopped, by reason: idle, max_lifetime, spawn_failed (left starting), account_deactivated.");
        var running = new CachedReading<List<(string Launcher, long Count)>>(() =>
        {
            using var command = catalogue.CreateCommand("SELECT launcher, count(*) FROM tool_instances WHERE state = 'Running' GROUP BY launcher");
            command.CommandTimeout = 2;
            using var reader = command.ExecuteReader();
            var counts = new List<(string, long)>();
            while (reader.Read()) counts.Add((reader.GetString(0), reader.GetInt64(1)));
            return counts;
        }, MaxAge, time, logger);
        meter.CreateObservableGauge("dataworkspace.tools.running", () =>
        {
            if (running.Value is not { } counts) return [];
            // The launcher in use counts even with nothing running, so a dashboard shows 0 rather than no data.
            var all = counts.Any(c => c.Launcher == launcher.Name) ? counts : [.. counts, (launcher.Name, 0)];
            return all.Select(c => new Measurement<long>(c.Count, new KeyValuePair<string, object?>("launcher", c.Launcher)));
        }, "{tool}", "Tool instances running, by launcher.");
    }

    /// <summary>The stage's name in the metric's <c>stage</c> tag and the span's name: <c>waiting_for_the_app</c>.</summary>
    public static string TagOf(ToolStage stage) => stage.Words().Replace(' ', '_');

    public void StageTook(ToolStage stage, string launcher, TimeSpan duration, string? errorType)
    {
        var tags = new TagList { { "stage", TagOf(stage) }, { "launcher", launcher } };
        if (errorType is not null) tags.Add("error.type", errorType);
        spawnDuration.Record(duration.TotalSeconds, tags);
    }

    public void Culled(ToolStopCause cause) =>
        culls.Add(1, new KeyValuePair<string, object?>("reason", cause switch
        {
            ToolStopCause.Idle => "idle",
            ToolStopCause.MaxLifetime => "max_lifetime",
            ToolStopCause.SpawnFailed => "spawn_failed",
            ToolStopCause.AccountDeactivated => "account_deactivated",
            _ => cause.ToString(),
        }));

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// The stages of one spawn as they pass: each gets a span under the spawn's, and when the spawn ends, a measurement of
/// the whole time it spent in each stage (ECS may go back from pulling to provisioning, so a stage can come twice).
/// Stages come from the spawner and, synchronously, from the launcher (ECS's provisioning and pulling).
/// </summary>
public sealed class SpawnStages(ToolsInstruments instruments, string launcher, Activity? spawn) : IDisposable
{
    private readonly Lock gate = new();
    private readonly Dictionary<ToolStage, TimeSpan> spent = [];
    private ToolStage? current;
    private long startedAt;
    private Activity? activity;
    private (ToolStage Stage, string ErrorType)? failed;
    private bool ended;

    public void Enter(ToolStage stage)
    {
        lock (gate)
        {
            if (current == stage || ended) return;
            Leave();
            (current, startedAt) = (stage, Stopwatch.GetTimestamp());
            activity = WebTelemetry.Activities.StartActivity("tool spawn " + ToolsInstruments.TagOf(stage), ActivityKind.Internal, spawn?.Context ?? default);
            activity?.SetTag("dataworkspace.tools.stage", ToolsInstruments.TagOf(stage));
        }
    }

    /// <summary>The stage under way failed: its measurement carries the error's type.</summary>
    public void Fail(Exception exception)
    {
        lock (gate)
        {
            if (current is { } stage) failed = (stage, exception is OperationCanceledException ? "timeout" : exception.GetType().FullName ?? "error");
            activity.Failed(exception);
            Leave();
        }
    }

    private void Leave()
    {
        if (current is not { } stage) return;
        spent[stage] = spent.GetValueOrDefault(stage) + Stopwatch.GetElapsedTime(startedAt);
        activity?.Dispose();
        (current, activity) = (null, null);
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (ended) return;
            Leave();
            ended = true;
            foreach (var (stage, duration) in spent)
                instruments.StageTook(stage, launcher, duration, failed is { } failure && failure.Stage == stage ? failure.ErrorType : null);
        }
    }
}
