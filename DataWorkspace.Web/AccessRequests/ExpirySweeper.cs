using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Background;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Notifications;
using DataWorkspace.Web.Portal;
using DataWorkspace.Web.ToolsAccess;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.AccessRequests;

public sealed class ExpiryOptions
{
    public const string Section = "Access";

    /// <summary>
    /// How often ended access is recorded and lapsed tools permissions removed. Reads already refuse expired access at
    /// once; the sweep ends the grant, tells the user and writes the audit entry.
    /// </summary>
    public TimeSpan ExpiryCheckInterval { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// Ends dataset access whose end date has passed and removes tools permissions whose training has lapsed. One replica
/// sweeps at a time (a transaction-scoped advisory lock); each ending is its own audit entry and email.
/// </summary>
public sealed class ExpirySweeper(IServiceScopeFactory scopes, Microsoft.Extensions.Options.IOptions<ExpiryOptions> options, ILogger<ExpirySweeper> logger) : PeriodicJob(logger)
{
    private const long LockKey = 0x4457_4558_5049_5259; // "DWEXPIRY"

    protected override TimeSpan Interval => options.Value.ExpiryCheckInterval;
    protected override string Description => "The expiry sweep";

    protected override async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        var (access, tools) = await SweepAsync(cancellationToken);
        if (access + tools > 0) logger.LogInformation("Expiry sweep: {Access} dataset access(es) ended, {Tools} tools permission(s) lapsed", access, tools);
    }

    public async Task<(int Access, int Tools)> SweepAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        var catalogue = services.GetRequiredService<CatalogueDbContext>();
        var audit = services.GetRequiredService<AuditLog>();
        var outbox = services.GetRequiredService<Outbox>();
        var links = services.GetRequiredService<PortalLinks>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();

        return await catalogue.InTransactionAsync(async cancellationToken =>
        {
            var locked = await catalogue.Database.SqlQuery<bool>($"SELECT pg_try_advisory_xact_lock({LockKey}) AS \"Value\"").SingleAsync(cancellationToken);
            if (!locked) return (0, 0);

            var ended = await catalogue.Permissions.Where(p => p.EndedAt == null && p.ExpiresAt != null && p.ExpiresAt <= now).ToListAsync(cancellationToken);
            var datasetIds = ended.Select(p => p.DatasetId).Distinct().ToList();
            var datasets = await catalogue.Datasets.Where(d => datasetIds.Contains(d.Id)).ToDictionaryAsync(d => d.Id, cancellationToken);
            var userIds = ended.Select(p => p.UserId).Distinct().ToList();
            var users = await catalogue.Users.Where(u => userIds.Contains(u.Id)).ToDictionaryAsync(u => u.Id, cancellationToken);
            var requestIds = ended.Where(p => p.AccessRequestId != null).Select(p => p.AccessRequestId!.Value).ToList();
            var requests = await catalogue.AccessRequests.Where(r => requestIds.Contains(r.Id)).ToDictionaryAsync(r => r.Id, cancellationToken);

            foreach (var permission in ended)
        {
                permission.EndedAt = now;
                permission.EndReason = PermissionEnd.Expired;
                permission.EndedBy = Actor.System.Id;
                if (permission.AccessRequestId is { } requestId && requests.TryGetValue(requestId, out var request))
            {
                    request.Status = AccessRequestStatus.Expired;
                    request.EndedAt = now;
                }

                var dataset = datasets[permission.DatasetId];
                var email = users.TryGetValue(permission.UserId, out var user) ? user.Email : permission.UserId;
                audit.Add(AuditActions.AccessExpired, Actor.System,
                    $"{email}'s access to '{dataset.Name}' ended on {permission.ExpiresAt:yyyy-MM-dd}", dataset.Id, permission.UserId);
                if (user is not null)
                    outbox.Enqueue(user.Email, $"Access ended: {dataset.Name}",
                        $"Your access to '{dataset.Name}' ended on {permission.ExpiresAt:d MMMM yyyy}. Ask again if you still need it: {links.Portal($"/datasets/{dataset.Slug}")}");
            }

            var lapsed = await catalogue.ToolsPermissions.Where(p => p.ExpiresAt != null && p.ExpiresAt <= now).ToListAsync(cancellationToken);
            foreach (var permission in lapsed)
        {
                catalogue.ToolsPermissions.Remove(permission);
                audit.Add(AuditActions.ToolsAccessLapsed, Actor.System,
                    $"Tools access lapsed on {permission.ExpiresAt:yyyy-MM-dd}: data protection training is due again", subjectUserId: permission.UserId);
            }

            await catalogue.SaveChangesAsync(cancellationToken);
            return (ended.Count, lapsed.Count);
        }, cancellationToken);
    }
}
