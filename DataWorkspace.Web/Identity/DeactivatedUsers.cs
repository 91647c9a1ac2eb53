using System.Collections.Frozen;
using DataWorkspace.Accounts;
using DataWorkspace.Contracts;
using Npgsql;

namespace DataWorkspace.Web.Identity;

/// <summary>
/// The users an administrator has deactivated, as this replica knows them: read from the catalogue at most every
/// <see cref="RefreshAfter"/>, and at once after any replica deactivates or reactivates someone (an
/// <see cref="AccountNotice"/>). Asked on every request, so a lookup is a set's, not a query's.
/// </summary>
public sealed class DeactivatedUsers(NpgsqlDataSource catalogue, ILogger<DeactivatedUsers> logger) : IAccountNoticeHandler
{
    private static readonly TimeSpan RefreshAfter = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim loading = new(1, 1);
    private volatile Snapshot? current;
    private long version;

    public async ValueTask<bool> IsDeactivatedAsync(string userId, CancellationToken cancellationToken)
    {
        var snapshot = current;
        if (snapshot is null || snapshot.IsStale) snapshot = await LoadAsync(cancellationToken);
        return snapshot.Ids.Contains(userId);
    }

    /// <summary>Forgets what it knows, so the next lookup reads the catalogue (this replica changed someone).</summary>
    public void Forget()
    {
        Interlocked.Increment(ref version);
        current = null;
    }

    public void OnNotice(AccountNotice notice)
    {
        if (notice.Change is AccountChange.Deactivated or AccountChange.Reactivated) Forget();
    }

    public void OnResume() => Forget();

    private async Task<Snapshot> LoadAsync(CancellationToken cancellationToken)
    {
        await loading.WaitAsync(cancellationToken);
        try
        {
            if (current is { IsStale: false } fresh) return fresh;
            var started = Interlocked.Read(ref version);
            var ids = new List<string>();
            try
            {
                await using var command = catalogue.CreateCommand("SELECT id FROM users WHERE deactivated_at IS NOT NULL");
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken)) ids.Add(reader.GetString(0));
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException && current is { } known)
            {
                logger.LogWarning(exception, "The deactivated users could not be read; using the list read {Age} ago", known.Age);
                return known;
            }

            var snapshot = new Snapshot(ids.ToFrozenSet(StringComparer.Ordinal), Environment.TickCount64);
            // A notice that arrived while this read ran may describe a change it did not see: not kept.
            if (Interlocked.Read(ref version) == started) current = snapshot;
            return snapshot;
        }
        finally
        {
            loading.Release();
        }
    }

    private sealed record Snapshot(FrozenSet<string> Ids, long ReadAt)
    {
        public TimeSpan Age => TimeSpan.FromMilliseconds(Environment.TickCount64 - ReadAt);
        public bool IsStale => Age >= RefreshAfter;
    }
}
