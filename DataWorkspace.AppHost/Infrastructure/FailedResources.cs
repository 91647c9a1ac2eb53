using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.AppHost.Infrastructure;

/// <summary>
/// A resource that fails to start or exits with an error is said in the console, with the end of its output: otherwise
/// a local run just waits (what depends on it never starts) and only the dashboard shows why.
/// </summary>
public static partial class FailedResources
{
    private const int LinesShown = 8;

    public static IDistributedApplicationBuilder ReportFailedResources(this IDistributedApplicationBuilder builder)
    {
        // From before the orchestrator starts: a resource that fails holds up the start itself, and hosted services with it.
        builder.Eventing.Subscribe<BeforeStartEvent>((@event, cancellationToken) =>
        {
            var services = @event.Services;
            var reporter = new Reporter(services.GetRequiredService<ResourceNotificationService>(), services.GetRequiredService<ResourceLoggerService>(),
                services.GetRequiredService<ILoggerFactory>());
            _ = Task.Run(() => reporter.WatchAsync(services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping));
            return Task.CompletedTask;
        });
        return builder;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\d{4}-\d\d-\d\dT[\d:.]+Z ")]
    private static partial System.Text.RegularExpressions.Regex Timestamp();

    private sealed class Reporter(ResourceNotificationService notifications, ResourceLoggerService logs, ILoggerFactory loggers)
    {
        public async Task WatchAsync(CancellationToken stoppingToken)
        {
            var logger = loggers.CreateLogger("DataWorkspace");
            var reported = new HashSet<string>(StringComparer.Ordinal);
            try
            {
                await foreach (var change in notifications.WatchAsync(stoppingToken))
                {
                    var state = change.Snapshot.State?.Text;
                    var failed = state == KnownResourceStates.FailedToStart
                        || ((state == KnownResourceStates.Exited || state == KnownResourceStates.Finished) && change.Snapshot.ExitCode is not (null or 0));
                    if (!failed || !reported.Add(change.ResourceId)) continue;

                    var lines = new List<LogLine>();
                    await foreach (var batch in logs.GetAllAsync(change.Resource).WithCancellation(stoppingToken)) lines.AddRange(batch);
                    // What it wrote to stderr says why, when there is any; otherwise the end of everything it wrote.
                    var errors = lines.Where(line => line.IsErrorMessage).ToList();
                    var output = (errors.Count > 0 ? errors : lines).OrderBy(line => line.LineNumber).Select(line => Timestamp().Replace(line.Content, ""))
                        .Where(line => !line.StartsWith("[sys]", StringComparison.Ordinal) && !line.TrimStart().StartsWith("at ", StringComparison.Ordinal)
                            && !line.StartsWith("--- End of stack trace", StringComparison.Ordinal))
                        .ToList();
                    // A resource that never started because one it waits for failed: that one was reported already.
                    if (output.Any(line => line.Contains("stopped waiting for dependency", StringComparison.Ordinal))) continue;
                    var tail = output.TakeLast(LinesShown).ToList();

                    logger.LogError("{Resource} {State}{ExitCode}, so what depends on it does not start. Its last output:\n{Output}\n" +
                        "Its whole log is in the dashboard (the login link is above). Stop with Ctrl+C, fix the cause, and run again.",
                        change.Resource.Name, state == KnownResourceStates.FailedToStart ? "failed to start" : "stopped",
                        change.Snapshot.ExitCode is { } code ? $" with exit code {code}" : "",
                        tail.Count == 0 ? "    (nothing)" : string.Join('\n', tail.Select(line => "    " + line)));
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                // The run is stopping: resources ending now are not failures to report.
            }
        }
    }
}
