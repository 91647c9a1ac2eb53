using System.Threading.Channels;
using DataWorkspace.Web.Catalogue;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.DatabaseAccess;

/// <summary>Asks for a role synchronisation soon; many asks while one is pending make one run.</summary>
public sealed class RoleSyncSignal
{
    private readonly Channel<bool> requests = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Request() => requests.Writer.TryWrite(true);

    internal ChannelReader<bool> Requests => requests.Reader;
}

/// <summary>
/// Asks for a synchronisation whenever a save changes who may read what: permissions, datasets and their sources,
/// teams. So an approval, a revocation or the expiry sweep reach PostgreSQL within moments, on whichever replica.
/// </summary>
public sealed class AccessChangeInterceptor(RoleSyncSignal signal) : SaveChangesInterceptor
{
    private static readonly HashSet<Type> Relevant =
    [
        typeof(DatasetPermission), typeof(Dataset), typeof(SourceTable), typeof(CustomQuery), typeof(Team), typeof(TeamMember),
    ];

    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<DbContext, object> pending = [];

    public override ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        if (eventData.Context is { } context && context.ChangeTracker.Entries().Any(entry =>
                entry.State is EntityState.Added or EntityState.Modified or EntityState.Deleted && Relevant.Contains(entry.Metadata.ClrType)))
            pending.AddOrUpdate(context, true);
        return base.SavingChangesAsync(eventData, result, cancellationToken);
    }

    public override ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        if (eventData.Context is { } context && pending.Remove(context)) signal.Request();
        return base.SavedChangesAsync(eventData, result, cancellationToken);
    }
}

/// <summary>
/// Synchronises roles (and logins' settings) when asked and on a schedule, then keeps the logins of running tools valid
/// and retires those of stopped ones, drops expired logins, and does the cleanups features above ask for (old Data
/// Explorer results).
/// </summary>
public sealed class DataAccessJob(
    RoleSync sync, DatabaseLogins logins, IEnumerable<IDatabaseLoginHolders> holders, IEnumerable<IDatasetsCleanup> cleanups, RoleSyncSignal signal,
    IOptions<DataAccessOptions> options, ILogger<DataAccessJob> logger) : BackgroundService
{
    /// <summary>One round of the job, as it runs on its schedule.</summary>
    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        await sync.SyncAsync(cancellationToken);
        // Before expired logins are dropped, so a running tool's login that lapsed while the platform was down is renewed, not dropped.
        if (holders.Any()) await logins.KeepToolLoginsAsync(holders, cancellationToken);
        await logins.DropExpiredAsync(cancellationToken);
        foreach (var cleanup in cleanups) await cleanup.CleanUpAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                logger.LogWarning(exception, "Database role synchronisation failed; it runs again when access changes or in {Interval}", options.Value.SyncInterval);
            }

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            wait.CancelAfter(options.Value.SyncInterval);
            try
            {
                await signal.Requests.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                // The interval passed with no request: a scheduled run.
            }
        }
    }
}
