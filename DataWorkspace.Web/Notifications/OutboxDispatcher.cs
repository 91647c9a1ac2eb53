using DataWorkspace.Web.Background;
using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Notifications;

/// <summary>
/// Sends queued emails. Each batch is claimed with FOR UPDATE SKIP LOCKED, so replicas never send one twice; a failed
/// send is retried with a growing delay (up to an hour) and its error is kept on the row for the platform team.
/// </summary>
public sealed class OutboxDispatcher(IServiceScopeFactory scopes, IEmailSender sender, IOptions<EmailOptions> options, TimeProvider time, ILogger<OutboxDispatcher> logger) : PeriodicJob(logger)
{
    private const int BatchSize = 20;

    protected override TimeSpan Interval => options.Value.PollInterval;
    protected override string Description => "Sending the outbox";

    protected override async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        while (await SendBatchAsync(cancellationToken) == BatchSize) { }
    }

    public async Task<int> SendBatchAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        return await catalogue.InTransactionAsync(async cancellationToken =>
        {
            var now = time.GetUtcNow();
            var batch = await catalogue.Outbox
                .FromSql($"SELECT * FROM outbox_messages WHERE sent_at IS NULL AND next_attempt_at <= {now} ORDER BY created_at LIMIT {BatchSize} FOR UPDATE SKIP LOCKED")
                .ToListAsync(cancellationToken);

            foreach (var message in batch)
        {
                message.Attempts++;
                try
            {
                    await sender.SendAsync(message, cancellationToken);
                    message.SentAt = time.GetUtcNow();
                    message.LastError = null;
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
            {
                    var delay = TimeSpan.FromSeconds(Math.Min(3600, 30 * Math.Pow(2, message.Attempts - 1)));
                    message.NextAttemptAt = time.GetUtcNow() + delay;
                    message.LastError = exception.Message;
                    logger.LogWarning("Email {Id} to {To} failed (attempt {Attempt}), retrying in {Delay}: {Error}", message.Id, message.To, message.Attempts, delay, exception.Message);
                }
            }

            await catalogue.SaveChangesAsync(cancellationToken);
            return batch.Count;
        }, cancellationToken);
    }
}
