using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using static DataWorkspace.Web.DatabaseAccess.DatabaseRoleNames;

namespace DataWorkspace.Web.DatabaseAccess;

public sealed partial class DataAccessOptions : IValidatableObject
{
    public const string Section = "DataAccess";

    /// <summary>How often roles are synchronised and expired logins dropped even when nothing asked for it.</summary>
    public TimeSpan SyncInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The Data Explorer's and downloads' login lifetime.</summary>
    public TimeSpan PortalLoginLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How far ahead a tool's login is valid: renewed at the synchronisations while its tool runs (same password, so
    /// the tool carries on), retired when it stops; a login nobody renews (the platform down) lapses after this.
    /// </summary>
    public TimeSpan MaxToolLoginLifetime { get; set; } = TimeSpan.FromDays(1);

    public TimeSpan StatementTimeout { get; set; } = TimeSpan.FromMinutes(15);
    public TimeSpan IdleInTransactionTimeout { get; set; } = TimeSpan.FromMinutes(30);
    public int ConnectionLimit { get; set; } = 10;

    /// <summary>PostgreSQL's work_mem for logins' sessions (e.g. <c>64MB</c>); unset leaves the server's own.</summary>
    public string? WorkMemory { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (SyncInterval <= TimeSpan.Zero) yield return new("DataAccess:SyncInterval must be positive, e.g. 00:05:00.");
        // A portal login is reused while it has an hour left: a shorter life would make a new one at every query.
        if (PortalLoginLifetime <= TimeSpan.FromHours(1)) yield return new("DataAccess:PortalLoginLifetime must be longer than an hour, e.g. 1.00:00:00.");
        // Renewed once half of it is gone, at a synchronisation: half must span two intervals, so one always comes in time.
        if (MaxToolLoginLifetime < SyncInterval * 4) yield return new("DataAccess:MaxToolLoginLifetime must be at least four times DataAccess:SyncInterval (tool logins are renewed at the synchronisations), e.g. 1.00:00:00.");
        if (StatementTimeout < TimeSpan.Zero) yield return new("DataAccess:StatementTimeout must be zero (no limit) or positive, e.g. 00:15:00.");
        if (IdleInTransactionTimeout < TimeSpan.Zero) yield return new("DataAccess:IdleInTransactionTimeout must be zero (no limit) or positive, e.g. 00:30:00.");
        if (ConnectionLimit is < 1 and not -1) yield return new("DataAccess:ConnectionLimit must be at least 1 (or -1 for no limit).");
        if (WorkMemory is { Length: > 0 } && !MemorySize().IsMatch(WorkMemory)) yield return new($"DataAccess:WorkMemory '{WorkMemory}' must be a size such as 4096kB, 64MB or 1GB.");
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[1-9][0-9]{0,9}(kB|MB|GB)$")]
    private static partial System.Text.RegularExpressions.Regex MemorySize();
}

/// <summary>A login the caller can connect with; <see cref="DataSource"/> is pooled and shared by every use of the login.</summary>
public sealed record UserLogin(string RoleName, string Password, DateTimeOffset ExpiresAt, NpgsqlDataSource DataSource);

/// <summary>
/// Short-lived login roles in the datasets database. A login is a member of its user's permanent role and starts every
/// session as that role, so whatever it reads or writes is decided by the grants <see cref="RoleSync"/> keeps, and
/// whatever it creates belongs to the user, not to the login.
/// </summary>
public sealed class DatabaseLogins(
    IServiceScopeFactory scopes,
    [FromKeyedServices(DatasetsDatabase.ConnectionName)] NpgsqlDataSource datasets,
    RoleSync roleSync,
    Identity.DeactivatedUsers deactivated,
    IDataProtectionProvider protection,
    Microsoft.Extensions.Options.IOptions<DataAccessOptions> options,
    ILogger<DatabaseLogins> logger) : IAsyncDisposable, Users.IDeactivationStep
{
    /// <summary>Logins expire by PostgreSQL's own clock (VALID UNTIL), which the business clock (moved in tests) does not move.</summary>
    private readonly TimeProvider time = TimeProvider.System;
    private readonly IDataProtector protector = protection.CreateProtector("DataWorkspace.DatabaseLogins");
    private readonly ConcurrentDictionary<string, NpgsqlDataSource> dataSources = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim creating = new(1, 1);

    /// <summary>When the last synchronisation that finished here started (a Stopwatch timestamp).</summary>
    private long lastSyncStarted;

    /// <summary>The user's portal login (Data Explorer, downloads), reused while it has at least an hour left.</summary>
    public async Task<UserLogin> PortalLoginAsync(string userId, CancellationToken cancellationToken)
    {
        var askedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var reuseUntil = time.GetUtcNow() + TimeSpan.FromHours(1);
        if (await FindAsync(userId, reuseUntil, cancellationToken) is { } existing) return existing;

        await creating.WaitAsync(cancellationToken);
        try
        {
            return await FindAsync(userId, reuseUntil, cancellationToken)
                ?? await CreateAsync(userId, LoginPurpose.Portal, options.Value.PortalLoginLifetime, askedAt, cancellationToken);
        }
        finally
        {
            creating.Release();
        }
    }

    /// <summary>A new login for a tool instance, living <paramref name="lifetime"/> (at most the configured maximum).</summary>
    public Task<UserLogin> ToolLoginAsync(string userId, TimeSpan lifetime, CancellationToken cancellationToken) =>
        CreateAsync(userId, LoginPurpose.Tool, lifetime < options.Value.MaxToolLoginLifetime ? lifetime : options.Value.MaxToolLoginLifetime,
            System.Diagnostics.Stopwatch.GetTimestamp(), cancellationToken);

    /// <summary>Ends a login now (its tool stopped): the next sweep drops it once no session uses it.</summary>
    public async Task RetireAsync(string roleName, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var now = time.GetUtcNow();
        await catalogue.Set<DatabaseLogin>().Where(l => l.RoleName == roleName && l.ExpiresAt > now)
            .ExecuteUpdateAsync(set => set.SetProperty(l => l.ExpiresAt, now), cancellationToken);
        try
        {
            await ExecuteAsync($"ALTER ROLE {Quote(roleName)} VALID UNTIL '{now.UtcDateTime:O}'", cancellationToken);
        }
        catch (PostgresException exception) when (exception.SqlState is PostgresErrorCodes.UndefinedObject)
        {
            // Another replica's sweep dropped it a moment ago: retired is what was asked.
        }
    }

    /// <summary>
    /// Keeps tool logins valid while their tools run and ends the others. A login a holder still needs is renewed a
    /// lease ahead once half its lease is gone (same password: the tool carries on), even if it lapsed while the
    /// platform was down and has not been dropped yet; one whose holder has ended, however it ended (stopped, crashed,
    /// gone with a restart), is retired, and so is one no holder knows.
    /// </summary>
    public async Task<(int Renewed, int Retired)> KeepToolLoginsAsync(IEnumerable<IDatabaseLoginHolders> holders, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var logins = await catalogue.Set<DatabaseLogin>().Where(l => l.Purpose == LoginPurpose.Tool && l.DroppedAt == null).ToListAsync(cancellationToken);
        if (logins.Count == 0) return (0, 0);
        var needed = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        foreach (var holder in holders)
            foreach (var (role, until) in await holder.NeededUntilAsync([.. logins.Select(l => l.RoleName)], cancellationToken))
                needed[role] = needed.TryGetValue(role, out var other) && other > until ? other : until;

        var now = time.GetUtcNow();
        var lease = options.Value.MaxToolLoginLifetime;
        var changed = new List<DatabaseLogin>();
        var (renewed, retired) = (0, 0);
        foreach (var login in logins)
        {
            var known = needed.TryGetValue(login.RoleName, out var neededUntil);
            if (known && neededUntil > now)
            {
                var until = now + lease < neededUntil ? now + lease : neededUntil;
                // Renewed once half its lease is gone: a running tool's login never nears its end, and most rounds change nothing.
                if (login.ExpiresAt - now >= lease / 2 || until <= login.ExpiresAt) continue;
                login.ExpiresAt = until;
                renewed++;
            }
            else if (login.ExpiresAt > now && (known || login.CreatedAt < now - UnclaimedToolLogin))
            {
                login.ExpiresAt = now;
                retired++;
            }
            else continue;

            changed.Add(login);
        }

        if (changed.Count == 0) return (0, 0);
        await using (var connection = await datasets.OpenConnectionAsync(cancellationToken))
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using var batch = new NpgsqlBatch(connection) { Transaction = transaction };
            batch.BatchCommands.Add(new($"SELECT pg_advisory_xact_lock({RoleSync.LockKey})"));
            // Only roles that exist: one dropped by hand must not stop the others.
            foreach (var login in changed)
                batch.BatchCommands.Add(new($"DO $$BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{login.RoleName}') THEN ALTER ROLE {Quote(login.RoleName)} VALID UNTIL '{login.ExpiresAt.UtcDateTime:O}'; END IF; END$$"));
            await batch.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        await catalogue.SaveChangesAsync(cancellationToken);
        if (renewed > 0) logger.LogInformation("Renewed {Count} database logins of running tools", renewed);
        if (retired > 0) logger.LogInformation("Retired {Count} database logins whose tools have stopped", retired);
        return (renewed, retired);
    }

    /// <summary>A tool's start records its login a moment after making it: until then no holder knows the login, and it must not be retired.</summary>
    private static readonly TimeSpan UnclaimedToolLogin = TimeSpan.FromMinutes(10);

    private async Task<UserLogin?> FindAsync(string userId, DateTimeOffset validAfter, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var login = await catalogue.Set<DatabaseLogin>().AsNoTracking()
            .Where(l => l.UserId == userId && l.Purpose == LoginPurpose.Portal && l.DroppedAt == null && l.ExpiresAt > validAfter)
            .OrderByDescending(l => l.ExpiresAt).FirstOrDefaultAsync(cancellationToken);
        return login is null ? null : Use(login.RoleName, protector.Unprotect(login.ProtectedPassword), login.ExpiresAt);
    }

    /// <param name="askedAt">When the caller asked (a Stopwatch timestamp): a synchronisation started since then has made the user's role.</param>
    private async Task<UserLogin> CreateAsync(string userId, LoginPurpose purpose, TimeSpan lifetime, long askedAt, CancellationToken cancellationToken)
    {
        if (await deactivated.IsDeactivatedAsync(userId, cancellationToken)) throw new Users.AccountDeactivatedException(userId);
        // The user's own role (and everything it should hold) must exist before a login can join it. Users whose first
        // logins queue here together share one synchronisation: each whole sync reads every user's roles and grants.
        if (Volatile.Read(ref lastSyncStarted) <= askedAt)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            await roleSync.SyncAsync(cancellationToken);
            Volatile.Write(ref lastSyncStarted, Math.Max(Volatile.Read(ref lastSyncStarted), started));
        }

        var role = NewLogin(userId);
        var password = RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 64);
        var now = time.GetUtcNow();
        var expires = now + lifetime;
        var settings = options.Value;
        await using (var connection = await datasets.OpenConnectionAsync(cancellationToken))
        {
            var database = connection.Database;
            await using var batch = new NpgsqlBatch(connection)
            {
                BatchCommands =
                {
                    // One role and ACL change at a time across replicas: PostgreSQL fails concurrent updates of the same ACL.
                    new($"SELECT pg_advisory_xact_lock({RoleSync.LockKey})"),
                    // Literals, not parameters: PostgreSQL takes none in these statements. Both are made here, not given.
                    new($"CREATE ROLE {Quote(role)} LOGIN PASSWORD '{password}' VALID UNTIL '{expires.UtcDateTime:O}' CONNECTION LIMIT {settings.ConnectionLimit} IN ROLE {Quote(User(userId))}"),
                    new($"GRANT CONNECT ON DATABASE {Quote(database)} TO {Quote(role)}"),
                },
            };
            foreach (var setting in LoginSettings.ForNewLogin(role, User(userId), settings)) batch.BatchCommands.Add(new(setting));
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            batch.Transaction = transaction;
            await batch.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        catalogue.Add(new DatabaseLogin
        {
            UserId = userId,
            RoleName = role,
            Purpose = purpose,
            ProtectedPassword = protector.Protect(password),
            CreatedAt = now,
            ExpiresAt = expires,
        });
        await catalogue.SaveChangesAsync(cancellationToken);
        logger.LogInformation("Database login {Role} created for {UserId} ({Purpose}, until {Expires:O})", role, userId, purpose, expires);
        return Use(role, password, expires);
    }

    private UserLogin Use(string role, string password, DateTimeOffset expires)
    {
        var source = dataSources.GetOrAdd(role, _ =>
        {
            var builder = new NpgsqlConnectionStringBuilder(datasets.ConnectionString)
            {
                Username = role,
                Password = password,
                MaxPoolSize = 5,
                // Every login has a pool of its own, so idle connections add up with the users who ran a query lately:
                // they are closed soon after use, not held for the server's connection slots.
                ConnectionIdleLifetime = 10,
                ConnectionPruningInterval = 2,
                ApplicationName = "dataworkspace-explorer",
                // Downloads and stored results move many rows: bigger reads mean fewer trips through the socket.
                ReadBufferSize = 64 * 1024,
                WriteBufferSize = 64 * 1024,
            };
            return NpgsqlDataSource.Create(builder);
        });
        return new UserLogin(role, password, expires, source);
    }

    /// <summary>
    /// Ends every login of a deactivated user now: refused at their next connection, their connections closed, then
    /// dropped; and the user's role loses its grants (see <see cref="RoleSync"/>).
    /// </summary>
    public async Task EndAsync(string userId, string userEmail, Audit.Actor actor, CancellationToken cancellationToken)
    {
        List<string> roles;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
            var now = time.GetUtcNow();
            roles = await catalogue.Set<DatabaseLogin>().Where(l => l.UserId == userId && l.DroppedAt == null).Select(l => l.RoleName).ToListAsync(cancellationToken);
            await catalogue.Set<DatabaseLogin>().Where(l => l.UserId == userId && l.DroppedAt == null && l.ExpiresAt > now)
                .ExecuteUpdateAsync(set => set.SetProperty(l => l.ExpiresAt, now), cancellationToken);
            foreach (var role in roles)
            {
                if (dataSources.TryRemove(role, out var source)) await source.DisposeAsync();
                try
                {
                    // NOLOGIN as well as VALID UNTIL: the expiry is only checked by password authentication.
                    await ExecuteAsync($"ALTER ROLE {Quote(role)} NOLOGIN VALID UNTIL '{now.UtcDateTime:O}'", cancellationToken);
                }
                catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UndefinedObject)
                {
                    // Already gone.
                }
            }
        }

        if (roles.Count > 0)
        {
            await using var terminate = datasets.CreateCommand("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE usename = ANY($1)");
            terminate.Parameters.Add(new NpgsqlParameter { Value = roles.ToArray() });
            try
            {
                var closed = (long)(await terminate.ExecuteScalarAsync(cancellationToken))!;
                if (closed > 0) logger.LogInformation("Closed {Count} database connections of {User}, whose account is deactivated", closed, userEmail);
            }
            catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.InsufficientPrivilege)
            {
                logger.LogWarning(exception, "The database connections of {User} could not be closed: the platform's role may not end other sessions; they end with the tools that hold them", userEmail);
            }
        }

        await roleSync.SyncAsync(cancellationToken);
        var dropped = await DropExpiredLoginsAsync(cancellationToken);
        logger.LogInformation("Ended the {Count} database logins of {User}, whose account is deactivated ({Dropped} dropped now)", roles.Count, userEmail, dropped);
    }

    /// <summary>
    /// Drops logins that have expired and that no session uses any more: connect revoked, anything they own handed to
    /// their user's role, then the role itself. A login still in use is left for the next sweep. Logins of deactivated
    /// users are ended first, whatever their expiry.
    /// </summary>
    public async Task<int> DropExpiredAsync(CancellationToken cancellationToken)
    {
        List<(string UserId, string Email)> leavers;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
            var now = time.GetUtcNow();
            leavers = [.. (await catalogue.Set<DatabaseLogin>()
                .Where(l => l.DroppedAt == null && l.ExpiresAt > now && catalogue.Users.Any(u => u.Id == l.UserId && u.DeactivatedAt != null))
                .Select(l => new { l.UserId, Email = catalogue.Users.Where(u => u.Id == l.UserId).Select(u => u.Email).First() }).Distinct().ToListAsync(cancellationToken))
                .Select(l => (l.UserId, l.Email))];
        }

        foreach (var (userId, email) in leavers) await EndAsync(userId, email, Audit.Actor.System, cancellationToken);
        return await DropExpiredLoginsAsync(cancellationToken);
    }

    private async Task<int> DropExpiredLoginsAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var now = time.GetUtcNow();
        var expired = await catalogue.Set<DatabaseLogin>().Where(l => l.DroppedAt == null && l.ExpiresAt <= now).ToListAsync(cancellationToken);

        // Login roles the catalogue does not know (a crash between creating and recording one) go too, once expired.
        var known = await catalogue.Set<DatabaseLogin>().Where(l => l.DroppedAt == null).Select(l => l.RoleName).ToListAsync(cancellationToken);
        var orphans = new List<string>();
        await using (var command = datasets.CreateCommand(@"SELECT rolname FROM pg_roles WHERE rolname LIKE '\_login\_%' AND (rolvaliduntil IS NULL OR rolvaliduntil < now())"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            while (await reader.ReadAsync(cancellationToken))
                if (!known.Contains(reader.GetString(0))) orphans.Add(reader.GetString(0));

        var dropped = 0;
        foreach (var role in expired.Select(l => l.RoleName).Concat(orphans))
        {
            if (dataSources.TryRemove(role, out var source)) await source.DisposeAsync();
            if (!await DropAsync(role, cancellationToken)) continue;
            dropped++;
            if (expired.FirstOrDefault(l => l.RoleName == role) is { } login) login.DroppedAt = now;
        }

        await catalogue.SaveChangesAsync(cancellationToken);
        if (dropped > 0) logger.LogInformation("Dropped {Count} expired database logins", dropped);
        return dropped;
    }

    private async Task<bool> DropAsync(string role, CancellationToken cancellationToken)
    {
        await using var connection = await datasets.OpenConnectionAsync(cancellationToken);
        await using (var sessions = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE usename = $1", connection) { Parameters = { new() { Value = role } } })
            if ((long)(await sessions.ExecuteScalarAsync(cancellationToken))! > 0)
            {
                logger.LogInformation("Database login {Role} has expired but is still connected; it is dropped when its sessions end", role);
                return false;
            }

        string? owner = null;
        await using (var member = new NpgsqlCommand(@"
            SELECT r.rolname FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
            WHERE m.rolname = $1 AND r.rolname LIKE '\_user\_%' LIMIT 1", connection) { Parameters = { new() { Value = role } } })
            owner = await member.ExecuteScalarAsync(cancellationToken) as string;

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection) { Transaction = transaction };
        batch.BatchCommands.Add(new($"SELECT pg_advisory_xact_lock({RoleSync.LockKey})"));
        batch.BatchCommands.Add(new($"REVOKE CONNECT ON DATABASE {Quote(connection.Database)} FROM {Quote(role)}"));
        if (owner is not null) batch.BatchCommands.Add(new($"REASSIGN OWNED BY {Quote(role)} TO {Quote(owner)}"));
        batch.BatchCommands.Add(new($"DROP OWNED BY {Quote(role)}"));
        batch.BatchCommands.Add(new($"DROP ROLE IF EXISTS {Quote(role)}"));
        try
        {
            await batch.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return true;
        }
        catch (PostgresException exception) when (exception.SqlState is PostgresErrorCodes.UndefinedObject)
        {
            return true;
        }
    }

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        await using var command = datasets.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var source in dataSources.Values) await source.DisposeAsync();
        dataSources.Clear();
    }
}
