using System.Diagnostics.Metrics;
using DataWorkspace.Web.Telemetry;
using DataWorkspace.Web.Time;
using Npgsql;

namespace DataWorkspace.Web.Notifications;

/// <summary>
/// <c>dataworkspace.notifications.outbox.backlog</c>: emails waiting in the outbox (not sent yet, retries included), read
/// through the outbox's partial index at most every few seconds. A backlog that grows means email is not going out.
/// </summary>
public sealed class OutboxBacklog : IHostedService
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(5);

    public OutboxBacklog(IMeterFactory meters, NpgsqlDataSource catalogue, [FromKeyedServices(Clock.Real)] TimeProvider time, ILogger<OutboxBacklog> logger)
    {
        var backlog = new CachedReading<long[]>(() =>
        {
            using var command = catalogue.CreateCommand("SELECT count(*) FROM outbox_messages WHERE sent_at IS NULL");
            command.CommandTimeout = 2;
            return [(long)command.ExecuteScalar()!];
        }, MaxAge, time, logger);
        meters.WebMeter().CreateObservableGauge("dataworkspace.notifications.outbox.backlog",
            () => backlog.Value is [var count] ? [new Measurement<long>(count)] : Array.Empty<Measurement<long>>(),
            "{message}", "Emails in the outbox not sent yet, retries included.");
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
