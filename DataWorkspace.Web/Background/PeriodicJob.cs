namespace DataWorkspace.Web.Background;

/// <summary>
/// A job that runs at start-up (unless <see cref="RunsAtStart"/> is false) and then every <see cref="Interval"/>; a
/// failed run is logged and the next one still happens, so a database that is briefly down delays the work instead of
/// stopping it.
/// </summary>
public abstract class PeriodicJob(ILogger logger) : BackgroundService
{
    protected abstract TimeSpan Interval { get; }

    /// <summary>What the job is, for its log lines ("the expiry sweep").</summary>
    protected abstract string Description { get; }

    protected virtual bool RunsAtStart => true;

    protected abstract Task RunOnceAsync(CancellationToken cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        if (!RunsAtStart && !await timer.WaitForNextTickAsync(stoppingToken)) return;
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                logger.LogWarning(exception, "{Job} failed; it runs again in {Interval}", Description, Interval);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
