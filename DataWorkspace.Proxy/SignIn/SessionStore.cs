using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Npgsql;

namespace DataWorkspace.Proxy.SignIn;

/// <summary>
/// Sessions kept server-side, in the catalogue database (<c>proxy_sessions</c>), with the browser's cookie carrying
/// only a random session key. The cookie was 5-6 KB (the claims and the id_token kept for sign-out), which every
/// request to the portal and to every tool carried, and which the proxy read, hashed and stripped each time: with the
/// key alone the cookie is about 200 bytes. Signing out deletes the session, so a copied cookie stops working at once
/// (on other replicas within <see cref="CacheFor"/>). Tickets are encrypted with Data Protection before they are
/// stored. Each replica keeps the sessions it has seen in memory for <see cref="CacheFor"/>.
/// </summary>
public sealed class SessionStore(NpgsqlDataSource dataSource, IDataProtectionProvider protection, TimeProvider time, ILogger<SessionStore> logger) : ITicketStore
{
    public const string Table = "proxy_sessions";
    public static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(1);

    private readonly IDataProtector protector = protection.CreateProtector("DataWorkspace.Proxy.SessionStore.v1");
    private readonly ConcurrentDictionary<string, CachedSession> cache = new(StringComparer.Ordinal);
    private readonly SharedLookups<string, AuthenticationTicket?> loading = new(StringComparer.Ordinal);
    private long lastSweep;

    public async Task<string> StoreAsync(AuthenticationTicket ticket)
    {
        var key = Base64Url(RandomNumberGenerator.GetBytes(32));
        await WriteAsync(key, ticket, insert: true);
        return key;
    }

    public Task RenewAsync(string key, AuthenticationTicket ticket) => WriteAsync(key, ticket, insert: false);

    public async Task<AuthenticationTicket?> RetrieveAsync(string key)
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

        var ticket = await LoadOnceAsync(key);
        return ticket is null ? null : Copy(ticket);
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
    private Task<AuthenticationTicket?> LoadOnceAsync(string key) => loading.GetAsync(key, LoadAsync);

    private async Task<AuthenticationTicket?> LoadAsync(string key)
    {
        var now = time.GetUtcNow();
        var found = await RunAsync($"SELECT ticket FROM {Table} WHERE id = $1 AND expires_at > now()", command => command.ExecuteScalarAsync(), key);
        if (found is not byte[] stored)
        {
            // Signed out (here or on another replica) or expired.
            cache.TryRemove(key, out _);
            return null;
        }

        AuthenticationTicket? ticket;
        try
        {
            ticket = TicketSerializer.Default.Deserialize(protector.Unprotect(stored));
        }
        catch (CryptographicException exception)
        {
            logger.LogWarning(exception, "A stored session could not be decrypted (its key is gone): the user signs in again");
            cache.TryRemove(key, out _);
            return null;
        }

        if (ticket is null) return null;
        // Signed out while this lookup was under way (it read the row just before it was deleted): not brought back.
        if (removed.ContainsKey(key)) return null;
        Remember(key, ticket, now);
        if (removed.ContainsKey(key))
        {
            cache.TryRemove(key, out _);
            return null;
        }

        return ticket;
    }

    public async Task RemoveAsync(string key)
    {
        var now = time.GetUtcNow();
        // A lookup that read the row just before it is deleted must not bring it back: the key is kept as signed out
        // for longer than any lookup takes. Sign-outs are few, so the list is tidied here.
        foreach (var (signedOut, at) in removed)
            if (at < now - RemovedFor) removed.TryRemove(signedOut, out _);
        removed[key] = now;
        cache.TryRemove(key, out _);
        await RunAsync($"DELETE FROM {Table} WHERE id = $1", command => command.ExecuteNonQueryAsync(), key);
        cache.TryRemove(key, out _);
    }

    private static readonly TimeSpan RemovedFor = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<string, DateTimeOffset> removed = new(StringComparer.Ordinal);

    private async Task WriteAsync(string key, AuthenticationTicket ticket, bool insert)
    {
        var now = time.GetUtcNow();
        var expires = ticket.Properties.ExpiresUtc ?? now + TimeSpan.FromDays(1);
        var userId = ticket.Principal.FindFirst("sub")?.Value ?? "";
        var sql = insert
            ? $"INSERT INTO {Table} (id, user_id, ticket, created_at, expires_at) VALUES ($1, $2, $3, now(), $4)"
            : $"UPDATE {Table} SET user_id = $2, ticket = $3, expires_at = $4 WHERE id = $1";
        await RunAsync(sql, command => command.ExecuteNonQueryAsync(), key, userId, protector.Protect(TicketSerializer.Default.Serialize(ticket)), expires.UtcDateTime);

        Remember(key, Copy(ticket), now);
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

    /// <summary>Runs one statement on the sessions table; a database that does not answer is reported as such.</summary>
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

    private void Remember(string key, AuthenticationTicket ticket, DateTimeOffset now) =>
        cache[key] = new CachedSession(ticket, now + CacheFor, new RecentSession(ticket.Principal.ToPlatformUser(), ticket.Principal.FindFirst(ClientAddress.IpPolicy.GroupClaim)?.Value));

    private sealed record CachedSession(AuthenticationTicket Ticket, DateTimeOffset Until, RecentSession Session);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>Who a session is for, as <see cref="SessionStore.Recent"/> reports it: the user (null when the ticket names none) and the IP group it signed in from.</summary>
public sealed record RecentSession(PlatformUser? User, string? IpGroup);

/// <summary>The sessions table could not be read or written: the platform's database is not answering.</summary>
public sealed class SessionsUnavailableException(Exception inner)
    : Exception("The platform's database is not answering, so your session cannot be checked. Try again in a minute.", inner);
