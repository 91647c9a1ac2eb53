using System.Collections.Concurrent;
using System.Security.Cryptography;
using DataWorkspace.Accounts;
using DataWorkspace.Contracts;
using DataWorkspace.Proxy.Schema;
using DataWorkspace.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Npgsql;

namespace DataWorkspace.Proxy.SignIn;

/// <summary>
/// Sessions kept server-side, in the proxy's own table (<c>proxy.sessions</c>, see <see cref="ProxySchema"/>), with
/// the browser's cookie carrying only a random session key: a cookie holding the ticket (the claims and the id_token kept
/// for sign-out) would be several kilobytes in chunks, carried by every request to the portal and to every tool, and
/// read, hashed and stripped by the proxy each time. Tickets are encrypted with Data Protection before they are stored.
/// Each replica keeps the sessions it has seen in memory for <see cref="CacheFor"/>.
/// Ending a session (signing out, the identity provider no longer accepting the user) deletes it and tells every
/// replica at once (an <see cref="AccountNotice"/>), so a copied cookie stops working everywhere. An administrator's
/// deactivation of a user (a notice from the web app) ends all their sessions: every replica forgets them and deletes
/// them. A session of a user this replica knows to be deactivated (<see cref="DeactivatedUsers"/>) is refused and
/// deleted wherever it is read.
/// </summary>
public sealed class SessionStore(
    NpgsqlDataSource dataSource,
    IDataProtectionProvider protection,
    DeactivatedUsers deactivated,
    SecurityRefusals refusals,
    TimeProvider time,
    ILogger<SessionStore> logger) : ITicketStore, IAccountNoticeHandler
{
    public const string Table = ProxySchema.Sessions;
    public static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(1);

    private readonly IDataProtector protector = protection.CreateProtector("DataWorkspace.Proxy.SessionStore.v1");
    private readonly ConcurrentDictionary<string, CachedSession> cache = new(StringComparer.Ordinal);
    private readonly SharedLookups<string, Loaded> loading = new(StringComparer.Ordinal);
    private long lastSweep;

    public async Task<string> StoreAsync(AuthenticationTicket ticket)
    {
        var key = Base64Url(RandomNumberGenerator.GetBytes(32));
        await WriteAsync(key, ticket, insert: true);
        return key;
    }

    public Task RenewAsync(string key, AuthenticationTicket ticket) => WriteAsync(key, ticket, insert: false);

    public Task<AuthenticationTicket?> RetrieveAsync(string key) => RetrieveAsync(key, context: null);

    public Task<AuthenticationTicket?> RetrieveAsync(string key, HttpContext httpContext, CancellationToken cancellationToken) => RetrieveAsync(key, httpContext);

    private async Task<AuthenticationTicket?> RetrieveAsync(string key, HttpContext? context)
    {
        var now = time.GetUtcNow();
        if (cache.TryGetValue(key, out var cached))
        {
            if (cached.Ticket.Properties.ExpiresUtc is { } expires && expires <= now) return null;
            if (cached.Until > now) return Copy(cached.Ticket);
            if (cached.Until + StaleFor > now)
            {
                // Past its minute: one lookup refreshes it in the background while this user's other requests carry
                // on. Every connection of a busy browser or tool would otherwise ask the database at the same moment.
                _ = RefreshAsync(key);
                return Copy(cached.Ticket);
            }
        }

        var loaded = await LoadOnceAsync(key);
        if (loaded.DeactivatedUser is { } user && context is not null)
            refusals.Record(context, RefusalReason.Deactivated, $"the session of {user}, whose account is deactivated");
        return loaded.Ticket is null ? null : Copy(loaded.Ticket);
    }

    /// <summary>
    /// The user and IP group of a session this replica read from the database (or wrote) less than <see cref="CacheFor"/>
    /// ago and which has not expired, without copying its ticket; null when the session must be retrieved the full way
    /// (<see cref="RetrieveAsync"/>), which also refreshes, expires and removes sessions. For callers that only read who
    /// is signed in. Stricter than <see cref="RetrieveAsync"/>: a session past its minute is not used while it is
    /// refreshed.
    /// </summary>
    public RecentSession? Recent(string key)
    {
        if (!cache.TryGetValue(key, out var cached)) return null;
        var now = time.GetUtcNow();
        if (cached.Until <= now || cached.Ticket.Properties.ExpiresUtc is { } expires && expires <= now) return null;
        return cached.Session;
    }

    /// <summary>How long past <see cref="CacheFor"/> a session may be used while its refresh is under way.</summary>
    public static readonly TimeSpan StaleFor = TimeSpan.FromSeconds(30);

    private async Task RefreshAsync(string key)
    {
        try
        {
            await LoadOnceAsync(key);
        }
        catch (SessionsUnavailableException exception)
        {
            logger.LogWarning(exception.InnerException, "A session could not be refreshed: the database is not answering");
        }
    }

    // Concurrent lookups of one session share a single query.
    private Task<Loaded> LoadOnceAsync(string key) => loading.GetAsync(key, LoadAsync);

    /// <summary>A session as read from the database: its ticket (null when it is gone), or the user it was refused for.</summary>
    private readonly record struct Loaded(AuthenticationTicket? Ticket, string? DeactivatedUser = null);

    private async Task<Loaded> LoadAsync(string key)
    {
        var now = time.GetUtcNow();
        var started = Interlocked.Read(ref notices);
        var found = await RunAsync($"SELECT ticket, user_id FROM {Table} WHERE id = $1 AND expires_at > now()", async command =>
            {
                await using var reader = await command.ExecuteReaderAsync();
                return await reader.ReadAsync() ? ((byte[])reader[0], reader.GetString(1)) : default((byte[], string)?);
            }, key);
        if (found is null)
        {
            // Signed out (here or on another replica) or expired.
            cache.TryRemove(key, out _);
            return default;
        }

        var (stored, userId) = found.Value;

        AuthenticationTicket? ticket;
        try
        {
            ticket = TicketSerializer.Default.Deserialize(protector.Unprotect(stored));
        }
        catch (CryptographicException exception)
        {
            logger.LogWarning(exception, "A stored session could not be decrypted (its key is gone): the user signs in again");
            cache.TryRemove(key, out _);
            return default;
        }

        if (ticket is null) return default;
        if (deactivated.Contains(userId))
        {
            // Its deletion after the deactivation has not happened yet (or failed): the session ends now.
            var email = ticket.Principal.ToPlatformUser()?.Email ?? userId;
            await EndAsync(key);
            return new Loaded(null, email);
        }

        // Signed out, or its user deactivated, while this lookup was under way (it read the row just before it was
        // deleted): not brought back.
        if (removed.ContainsKey(key)) return default;
        Remember(key, ticket, now, started);
        if (removed.ContainsKey(key) || deactivated.Contains(userId))
        {
            cache.TryRemove(key, out _);
            return default;
        }

        return new Loaded(ticket);
    }

    public Task RemoveAsync(string key) => EndAsync(key);

    /// <summary>Ends a session everywhere: deleted, and every replica told to forget it at once.</summary>
    public async Task EndAsync(string key)
    {
        Forget(key);
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await using var delete = new NpgsqlCommand($"DELETE FROM {Table} WHERE id = $1", connection, transaction) { Parameters = { new() { Value = key } } };
            if (await delete.ExecuteNonQueryAsync() > 0)
                await AccountNotices.SendAsync(connection, transaction, new AccountNotice(AccountChange.SessionEnded, SessionKey: key), CancellationToken.None);
            await transaction.CommitAsync();
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
        {
            throw new SessionsUnavailableException(exception);
        }

        cache.TryRemove(key, out _);
    }

    /// <summary>
    /// Ends every session of <paramref name="userIds"/> (deactivated users): each replica knows of the deactivation
    /// itself, so no notice is sent per session. The number of sessions deleted.
    /// </summary>
    public async Task<int> EndSessionsOfAsync(IReadOnlyCollection<string> userIds)
    {
        ForgetSessionsOf(userIds);
        return await RunAsync($"DELETE FROM {Table} WHERE user_id = ANY($1)", command => command.ExecuteNonQueryAsync(), (object)userIds.ToArray());
    }

    /// <summary>The users who have a session that has not expired.</summary>
    public Task<List<string>> SignedInUsersAsync() =>
        RunAsync($"SELECT DISTINCT user_id FROM {Table} WHERE expires_at > now()", async command =>
        {
            var users = new List<string>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) users.Add(reader.GetString(0));
            return users;
        });

    private void ForgetSessionsOf(IReadOnlyCollection<string> userIds)
    {
        foreach (var (key, cached) in cache)
            if (cached.Session.User?.Id is { } user && userIds.Contains(user)) cache.TryRemove(key, out _);
    }

    private void Forget(string key)
    {
        var now = time.GetUtcNow();
        // A lookup that read the row just before it is deleted must not bring it back: the key is kept as signed out
        // for longer than any lookup takes. Sign-outs are few, so the list is tidied here.
        foreach (var (signedOut, at) in removed)
            if (at < now - RemovedFor) removed.TryRemove(signedOut, out _);
        removed[key] = now;
        cache.TryRemove(key, out _);
    }

    private static readonly TimeSpan RemovedFor = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<string, DateTimeOffset> removed = new(StringComparer.Ordinal);

    // Every notice this replica heard has a number: what a lookup begun before the replica stopped listening read is not kept.
    private long notices;
    private long resumed;

    public void OnNotice(AccountNotice notice)
    {
        Interlocked.Increment(ref notices);
        switch (notice)
        {
            case { Change: AccountChange.Deactivated, UserId: { } userId }:
                // Known before the cache is emptied, so a lookup under way does not put the user's session back.
                deactivated.Deactivated(userId);
                ForgetSessionsOf([userId]);
                _ = EndSessionsOfDeactivatedAsync(userId);
                break;
            case { Change: AccountChange.Reactivated, UserId: { } userId }:
                deactivated.Reactivated(userId);
                break;
            case { Change: AccountChange.SessionEnded, SessionKey: { } key }:
                Forget(key);
                break;
        }
    }

    private async Task EndSessionsOfDeactivatedAsync(string userId)
    {
        try
        {
            var ended = await EndSessionsOfAsync([userId]);
            logger.LogInformation("Sessions of user {UserId} ended: the account was deactivated ({Count} deleted here)", userId, ended);
        }
        catch (SessionsUnavailableException exception)
        {
            // Each is still refused (and deleted) when it is next read, and by the periodic check.
            logger.LogWarning(exception.InnerException, "The sessions of deactivated user {UserId} could not be deleted now", userId);
        }
    }

    public void OnResume()
    {
        // Sessions may have ended while this replica was not listening: each is read again on its next use.
        Interlocked.Exchange(ref resumed, Interlocked.Increment(ref notices));
        cache.Clear();
    }

    /// <summary>A session whose identity provider check is due, claimed by this replica (its ticket null when it cannot be read).</summary>
    public sealed record DueSession(string Key, string UserId, AuthenticationTicket? Ticket);

    /// <summary>
    /// Claims up to <paramref name="count"/> sessions last checked longer than <paramref name="checkEvery"/> ago,
    /// marking them checked now, so other replicas take others.
    /// </summary>
    public Task<List<DueSession>> ClaimDueAsync(TimeSpan checkEvery, int count) =>
        RunAsync($"""
            WITH due AS (
                SELECT id FROM {Table} WHERE checked_at <= now() - $1 AND expires_at > now()
                ORDER BY checked_at LIMIT $2 FOR UPDATE SKIP LOCKED)
            UPDATE {Table} s SET checked_at = now() FROM due WHERE s.id = due.id
            RETURNING s.id, s.user_id, s.ticket
            """, async command =>
            {
                var due = new List<DueSession>();
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    AuthenticationTicket? ticket;
                    try
                    {
                        ticket = TicketSerializer.Default.Deserialize(protector.Unprotect((byte[])reader[2]));
                    }
                    catch (CryptographicException)
                    {
                        ticket = null;
                    }

                    due.Add(new DueSession(reader.GetString(0), reader.GetString(1), ticket));
                }

                return due;
            }, checkEvery, count);

    /// <summary>Keeps a checked session's ticket with the tokens the identity provider gave this time (its expiry stays).</summary>
    public async Task SaveCheckedAsync(string key, AuthenticationTicket ticket)
    {
        var started = Interlocked.Read(ref notices);
        var updated = await RunAsync($"UPDATE {Table} SET ticket = $2 WHERE id = $1", command => command.ExecuteNonQueryAsync(),
            key, protector.Protect(TicketSerializer.Default.Serialize(ticket)));
        if (updated > 0 && cache.ContainsKey(key) && !removed.ContainsKey(key)) Remember(key, Copy(ticket), time.GetUtcNow(), started);
    }

    /// <summary>Makes sessions due for a check again at once (the identity provider did not answer for them).</summary>
    public Task CheckAgainSoonAsync(IReadOnlyCollection<string> keys) =>
        RunAsync($"UPDATE {Table} SET checked_at = '-infinity' WHERE id = ANY($1)", command => command.ExecuteNonQueryAsync(), (object)keys.ToArray());

    private async Task WriteAsync(string key, AuthenticationTicket ticket, bool insert)
    {
        var now = time.GetUtcNow();
        var expires = ticket.Properties.ExpiresUtc ?? now + TimeSpan.FromDays(1);
        var userId = ticket.Principal.FindFirst("sub")?.Value ?? "";
        var sql = insert
            ? $"INSERT INTO {Table} (id, user_id, ticket, created_at, expires_at) VALUES ($1, $2, $3, now(), $4)"
            : $"UPDATE {Table} SET user_id = $2, ticket = $3, expires_at = $4 WHERE id = $1";
        await RunAsync(sql, command => command.ExecuteNonQueryAsync(), key, userId, protector.Protect(TicketSerializer.Default.Serialize(ticket)), expires.UtcDateTime);

        Remember(key, Copy(ticket), now, Interlocked.Read(ref notices));
        // Expired sessions are swept now and then by whichever replica signs someone in.
        var sweepDue = Interlocked.Read(ref lastSweep) + TimeSpan.FromMinutes(10).Ticks;
        if (insert && now.UtcTicks > sweepDue && Interlocked.Exchange(ref lastSweep, now.UtcTicks) < sweepDue)
        {
            try
            {
                await RunAsync($"DELETE FROM {Table} WHERE expires_at < now()", command => command.ExecuteNonQueryAsync());
            }
            catch (SessionsUnavailableException exception)
            {
                // The session is stored; the sweep can wait for the next sign-in.
                logger.LogWarning(exception.InnerException, "Expired sessions could not be swept");
            }

            foreach (var (cachedKey, entry) in cache)
                if (entry.Until <= now) cache.TryRemove(cachedKey, out _);
        }
    }

    /// <summary>
    /// Runs one statement on the sessions table; a database that does not answer is reported as such. An array is one
    /// value: pass it as <c>(object)array</c>, or it is taken for the values themselves.
    /// </summary>
    private async Task<T> RunAsync<T>(string sql, Func<NpgsqlCommand, Task<T>> run, params object[] values)
    {
        try
        {
            await using var command = dataSource.CreateCommand(sql);
            foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
            return await run(command);
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
        {
            throw new SessionsUnavailableException(exception);
        }
    }

    // Each request gets its own copy: nothing one request changes leaks into the next.
    private static AuthenticationTicket Copy(AuthenticationTicket ticket) =>
        new(ticket.Principal.Clone(), ticket.Properties.Clone(), ticket.AuthenticationScheme);

    // Not kept when the replica stopped listening for notices since the caller began: it may have missed the session's end.
    private void Remember(string key, AuthenticationTicket ticket, DateTimeOffset now, long started)
    {
        if (Interlocked.Read(ref resumed) > started) return;
        cache[key] = new CachedSession(ticket, now + CacheFor, new RecentSession(ticket.Principal.ToPlatformUser(), ticket.Principal.FindFirst(ClientAddress.IpPolicy.GroupClaim)?.Value));
    }

    private sealed record CachedSession(AuthenticationTicket Ticket, DateTimeOffset Until, RecentSession Session);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>Who a session is for, as <see cref="SessionStore.Recent"/> reports it: the user (null when the ticket names none) and the IP group it signed in from.</summary>
public sealed record RecentSession(PlatformUser? User, string? IpGroup);

/// <summary>The sessions table could not be read or written: the platform's database is not answering.</summary>
public sealed class SessionsUnavailableException(Exception inner)
    : Exception("The platform's database is not answering, so your session cannot be checked. Try again in a minute.", inner);
