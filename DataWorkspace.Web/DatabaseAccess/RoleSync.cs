using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Telemetry;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using static DataWorkspace.Web.DatabaseAccess.DatabaseRoleNames;

namespace DataWorkspace.Web.DatabaseAccess;

/// <summary>What one synchronisation changed, for logs and tests.</summary>
public sealed record RoleSyncResult(int Statements, IReadOnlyList<string> Skipped);

/// <summary>
/// Makes the datasets database's roles and grants say exactly what the catalogue says: one role per dataset with
/// SELECT on its tables (and data-cut views), the dataset roles given to users (approved requests), to email-domain
/// roles and to the everyone role, each user's and team's role and schema, and every live login's settings
/// (<see cref="LoginSettings"/>). Anything the platform manages that the
/// catalogue does not list is revoked. Runs in one transaction under an advisory lock, so replicas take turns, and
/// does nothing when nothing changed.
/// </summary>
public sealed class RoleSync(
    IServiceScopeFactory scopes,
    [FromKeyedServices(DatasetsDatabase.ConnectionName)] NpgsqlDataSource datasets,
    TimeProvider time,
    Microsoft.Extensions.Options.IOptions<DataAccessOptions> options,
    IMeterFactory meters,
    ILogger<RoleSync> logger)
{
    private readonly Histogram<double> duration = meters.WebMeter().CreateHistogram("dataworkspace.permissions.sync.duration", "s",
        "How long a synchronisation of the datasets database's roles and grants with the catalogue took; error.type when it failed.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });

    /// <summary>Taken by everything that changes roles or the database's ACL (sync, login create and drop): concurrent ACL updates fail in PostgreSQL.</summary>
    internal const long LockKey = 0x44575f726f6c6573; // "DW_roles"

    private sealed record Desired(
        HashSet<string> Roles,
        Dictionary<string, string> Schemas,
        HashSet<(string Role, string Member)> Memberships,
        HashSet<(string Schema, string Table, string Role)> TableGrants,
        Dictionary<string, string> DataCuts,
        Dictionary<string, string> DataCutRoles,
        List<(string Team, string Member)> TeamWriters);

    public async Task<RoleSyncResult> SyncAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var activity = WebTelemetry.Activities.StartActivity("permission sync");
        try
        {
            var result = await SyncOnceAsync(cancellationToken);
            activity?.SetTag("dataworkspace.permissions.changes", result.Statements);
            duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
            return result;
        }
        catch (Exception exception)
        {
            activity.Failed(exception);
            duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("error.type", exception.GetType().FullName));
            throw;
        }
    }

    private async Task<RoleSyncResult> SyncOnceAsync(CancellationToken cancellationToken)
    {
        var desired = await DesiredAsync(cancellationToken);
        await using var connection = await datasets.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({LockKey})", cancellationToken);

        var skipped = new List<string>();
        var existingTables = await SetAsync(connection, "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','v','m','p','f')", cancellationToken);
        var applied = await SyncRolesAndSchemasAsync(connection, desired, cancellationToken);
        var membershipChanges = await MembershipChangesAsync(connection, desired, cancellationToken);
        var views = await DataCutViewsAsync(connection, cancellationToken);
        applied += await RunAsync(connection, membershipChanges, cancellationToken);
        applied += await DropUnlistedDataCutsAsync(connection, desired, views, skipped, cancellationToken);
        applied += await ReplaceChangedDataCutsAsync(connection, desired, views, existingTables, skipped, cancellationToken);

        var (statements, wanted) = await TableGrantChangesAsync(connection, desired, existingTables, skipped, cancellationToken);
        statements.AddRange(await SchemaUsageChangesAsync(connection, wanted, cancellationToken));
        statements.AddRange(TeamDefaultPrivileges(desired));
        // Every live login's settings, so a changed option reaches logins made before it.
        statements.AddRange(await LoginSettings.DifferencesAsync(connection, options.Value, cancellationToken));
        // The team default privileges are stated every time: they are not counted as changes.
        applied += await RunAsync(connection, statements, cancellationToken) - desired.TeamWriters.Count;
        await transaction.CommitAsync(cancellationToken);

        if (applied > 0) logger.LogInformation("Database roles synchronised: {Statements} changes", applied);
        foreach (var reason in skipped) logger.LogWarning("Database role synchronisation skipped {Reason}", reason);
        return new RoleSyncResult(applied, skipped);
    }

    /// <summary>Creates the roles and schemas the catalogue lists and drops the dataset and domain roles it no longer lists.</summary>
    private static async Task<int> SyncRolesAndSchemasAsync(NpgsqlConnection connection, Desired desired, CancellationToken cancellationToken)
    {
        var roles = await SetAsync(connection, @"SELECT rolname FROM pg_roles WHERE rolname LIKE '\_%'", cancellationToken);
        roles.RemoveWhere(role => !IsManaged(role));
        var schemas = await SetAsync(connection, "SELECT nspname FROM pg_namespace", cancellationToken);

        var statements = new List<string>();
        foreach (var role in desired.Roles.Where(role => !roles.Contains(role)).Order())
            statements.Add($"CREATE ROLE {Quote(role)} NOLOGIN");
        foreach (var role in roles.Where(role => (role.StartsWith(DatasetPrefix) || role.StartsWith(DomainPrefix)) && !desired.Roles.Contains(role)).Order())
        {
            // Datasets that are gone, and domains nobody has: their roles go. User and team roles stay with their data.
            statements.Add($"DROP OWNED BY {Quote(role)}");
            statements.Add($"DROP ROLE {Quote(role)}");
        }

        foreach (var (schema, owner) in desired.Schemas.Where(schema => !schemas.Contains(schema.Key)).OrderBy(schema => schema.Key))
            statements.Add($"CREATE SCHEMA {Quote(schema)} AUTHORIZATION {Quote(owner)}");
        if (!schemas.Contains(DataCutSchema)) statements.Add($"CREATE SCHEMA {Quote(DataCutSchema)}");
        return await RunAsync(connection, statements, cancellationToken);
    }

    /// <summary>
    /// The GRANTs and REVOKEs that make memberships between managed roles what the catalogue says (a login's
    /// membership of its user role is the login sweep's business).
    /// </summary>
    private static async Task<List<string>> MembershipChangesAsync(NpgsqlConnection connection, Desired desired, CancellationToken cancellationToken)
    {
        var memberships = new HashSet<(string Role, string Member)>();
        await using (var command = new NpgsqlCommand(@"
            SELECT r.rolname, m.rolname FROM pg_auth_members am
            JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
            WHERE r.rolname LIKE '\_%' AND m.rolname LIKE '\_%'", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            while (await reader.ReadAsync(cancellationToken))
                if (IsManaged(reader.GetString(0)) && IsManaged(reader.GetString(1)) && !reader.GetString(1).StartsWith(LoginPrefix))
                    memberships.Add((reader.GetString(0), reader.GetString(1)));

        var statements = new List<string>();
        foreach (var (role, member) in desired.Memberships.Except(memberships).Order())
            statements.Add($"GRANT {Quote(role)} TO {Quote(member)}");
        foreach (var (role, member) in memberships.Except(desired.Memberships).Order())
            statements.Add($"REVOKE {Quote(role)} FROM {Quote(member)}");
        return statements;
    }

    /// <summary>The data cut views there are, each with its comment: the fingerprint of the query it was made from.</summary>
    private static async Task<Dictionary<string, string?>> DataCutViewsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var views = new Dictionary<string, string?>();
        await using var command = new NpgsqlCommand(
            "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'v'", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = DataCutSchema });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) views[reader.GetString(0)] = reader.IsDBNull(1) ? null : reader.GetString(1);
        return views;
    }

    /// <summary>
    /// Drops the data cut views the catalogue no longer lists. Dropping or replacing a view waits for the queries
    /// reading it, and new readers queue behind: a view in use is left as it is (its grants too) for a later
    /// synchronisation rather than holding everyone up.
    /// </summary>
    private static async Task<int> DropUnlistedDataCutsAsync(
        NpgsqlConnection connection, Desired desired, Dictionary<string, string?> views, List<string> skipped, CancellationToken cancellationToken)
    {
        var applied = 0;
        foreach (var view in views.Keys.Where(view => !desired.DataCuts.ContainsKey(view)))
        {
            await ExecuteAsync(connection, "SAVEPOINT data_cut", cancellationToken);
            await ExecuteAsync(connection, $"SET LOCAL lock_timeout = {(long)DatasetsDatabase.ReadersWaitAtMost.TotalMilliseconds}", cancellationToken);
            try
            {
                await ExecuteAsync(connection, $"DROP VIEW IF EXISTS {Quote(DataCutSchema)}.{Quote(view)}", cancellationToken);
                await ExecuteAsync(connection, "SET LOCAL lock_timeout = 0", cancellationToken);
                applied++;
            }
            catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                await ExecuteAsync(connection, "ROLLBACK TO SAVEPOINT data_cut", cancellationToken);
                skipped.Add($"dropping data cut {view}: a running query reads it; dropped at a later synchronisation");
            }
        }

        return applied;
    }

    /// <summary>
    /// (Re)creates each data cut whose view is missing or was made from another query: a view's text is the
    /// catalogue's query, and its comment the query's fingerprint. <paramref name="existingTables"/> follows.
    /// </summary>
    private static async Task<int> ReplaceChangedDataCutsAsync(
        NpgsqlConnection connection, Desired desired, Dictionary<string, string?> views, HashSet<string> existingTables, List<string> skipped,
        CancellationToken cancellationToken)
    {
        var applied = 0;
        foreach (var (view, sql) in desired.DataCuts)
        {
            var fingerprint = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
            if (views.TryGetValue(view, out var comment) && comment == fingerprint) continue;
            // A broken data cut must not stop the others: each view is tried under its own savepoint.
            await ExecuteAsync(connection, "SAVEPOINT data_cut", cancellationToken);
            await ExecuteAsync(connection, $"SET LOCAL lock_timeout = {(long)DatasetsDatabase.ReadersWaitAtMost.TotalMilliseconds}", cancellationToken);
            try
            {
                await ExecuteAsync(connection, $"DROP VIEW IF EXISTS {Quote(DataCutSchema)}.{Quote(view)}", cancellationToken);
                await ExecuteAsync(connection, $"CREATE VIEW {Quote(DataCutSchema)}.{Quote(view)} AS {sql.TrimEnd().TrimEnd(';')}", cancellationToken);
                await ExecuteAsync(connection, $"COMMENT ON VIEW {Quote(DataCutSchema)}.{Quote(view)} IS '{fingerprint}'", cancellationToken);
                await ExecuteAsync(connection, "SET LOCAL lock_timeout = 0", cancellationToken);
                existingTables.Add($"{DataCutSchema}.{view}");
                applied += 3;
            }
            catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                // The old view stays, with its grants, until a synchronisation finds it free.
                await ExecuteAsync(connection, "ROLLBACK TO SAVEPOINT data_cut", cancellationToken);
                skipped.Add($"data cut {desired.DataCutRoles[view]}/{view}: a running query reads it; replaced at a later synchronisation");
            }
            catch (PostgresException exception)
            {
                await ExecuteAsync(connection, "ROLLBACK TO SAVEPOINT data_cut", cancellationToken);
                existingTables.Remove($"{DataCutSchema}.{view}");
                skipped.Add($"data cut {desired.DataCutRoles[view]}/{view}: {exception.MessageText}");
            }
        }

        return applied;
    }

    /// <summary>
    /// The GRANTs and REVOKEs of SELECT that give dataset roles exactly their tables, and the grants wanted (those of
    /// the catalogue whose table exists; the others are skipped).
    /// </summary>
    private static async Task<(List<string> Statements, HashSet<(string Schema, string Table, string Role)> Wanted)> TableGrantChangesAsync(
        NpgsqlConnection connection, Desired desired, HashSet<string> existingTables, List<string> skipped, CancellationToken cancellationToken)
    {
        var grants = new HashSet<(string Schema, string Table, string Role)>();
        await using (var command = new NpgsqlCommand(@"
            SELECT n.nspname, c.relname, g.rolname FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            CROSS JOIN LATERAL aclexplode(c.relacl) a JOIN pg_roles g ON g.oid = a.grantee
            WHERE a.privilege_type = 'SELECT' AND g.rolname LIKE '\_dataset\_%'", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            while (await reader.ReadAsync(cancellationToken)) grants.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        var wanted = desired.TableGrants.Where(grant => existingTables.Contains($"{grant.Schema}.{grant.Table}")).ToHashSet();
        skipped.AddRange(desired.TableGrants.Except(wanted).Select(grant => $"table {grant.Schema}.{grant.Table} (for {grant.Role}) does not exist"));

        var statements = new List<string>();
        foreach (var (schema, table, role) in wanted.Except(grants).Order())
            statements.Add($"GRANT SELECT ON {Quote(schema)}.{Quote(table)} TO {Quote(role)}");
        foreach (var (schema, table, role) in grants.Except(wanted).Order())
            statements.Add($"REVOKE ALL ON {Quote(schema)}.{Quote(table)} FROM {Quote(role)}");
        return (statements, wanted);
    }

    /// <summary>
    /// USAGE on the schemas of the wanted tables, for their dataset roles and for everyone: every user may look into
    /// the schemas datasets live in (their names are in the catalogue anyway), so a refusal names the table the user
    /// cannot read rather than its schema.
    /// </summary>
    private static async Task<List<string>> SchemaUsageChangesAsync(
        NpgsqlConnection connection, HashSet<(string Schema, string Table, string Role)> wanted, CancellationToken cancellationToken)
    {
        var usage = new HashSet<(string Schema, string Role)>();
        await using (var command = new NpgsqlCommand(@"
            SELECT n.nspname, g.rolname FROM pg_namespace n
            CROSS JOIN LATERAL aclexplode(n.nspacl) a JOIN pg_roles g ON g.oid = a.grantee
            WHERE a.privilege_type = 'USAGE' AND (g.rolname LIKE '\_dataset\_%' OR g.rolname = '_datasets_everyone')", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            while (await reader.ReadAsync(cancellationToken)) usage.Add((reader.GetString(0), reader.GetString(1)));
        var wantedUsage = wanted.Select(grant => (grant.Schema, grant.Role)).Concat(wanted.Select(grant => (grant.Schema, Everyone))).ToHashSet();

        var statements = new List<string>();
        foreach (var (schema, role) in wantedUsage.Except(usage).Order())
            statements.Add($"GRANT USAGE ON SCHEMA {Quote(schema)} TO {Quote(role)}");
        foreach (var (schema, role) in usage.Except(wantedUsage).Order())
            statements.Add($"REVOKE USAGE ON SCHEMA {Quote(schema)} FROM {Quote(role)}");
        return statements;
    }

    /// <summary>What a team member creates in the team's schema, the other members can use.</summary>
    private static IEnumerable<string> TeamDefaultPrivileges(Desired desired) =>
        desired.TeamWriters.Select(writer => $"ALTER DEFAULT PRIVILEGES FOR ROLE {Quote(writer.Member)} IN SCHEMA {Quote(writer.Team)} GRANT ALL ON TABLES TO {Quote(writer.Team)}");

    private static bool IsManaged(string role) =>
        role == Everyone || role.StartsWith(UserPrefix) || role.StartsWith(TeamPrefix) || role.StartsWith(DatasetPrefix)
        || role.StartsWith(DomainPrefix) || role.StartsWith(LoginPrefix);

    private async Task<Desired> DesiredAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var now = time.GetUtcNow();
        var datasetList = await catalogue.Datasets.AsNoTracking()
            .Where(d => d.Published && d.DeletedAt == null && (d.Tables.Any() || d.Queries.Any()))
            .Select(d => new { d.Id, d.AccessType, d.AuthorizedEmailDomains, Tables = d.Tables.Select(t => new { t.Schema, t.Table }).ToList(), Queries = d.Queries.Select(q => new { q.Id, q.Query }).ToList() })
            .ToListAsync(cancellationToken);
        var users = await catalogue.Users.AsNoTracking().Select(u => new { u.Id, u.Email, Deactivated = u.DeactivatedAt != null }).ToListAsync(cancellationToken);
        // A deactivated user keeps their role and schema (their data) but is given nothing: no dataset, domain or team.
        var userIds = users.Where(u => !u.Deactivated).Select(u => u.Id).ToHashSet(StringComparer.Ordinal);
        var permissions = await catalogue.Permissions.AsNoTracking().ActiveAt(now).Select(p => new { p.DatasetId, p.UserId }).ToListAsync(cancellationToken);
        var teams = await catalogue.Set<Team>().AsNoTracking().Include(t => t.Members).ToListAsync(cancellationToken);

        var desired = new Desired([Everyone], [], [], [], [], [], []);
        var datasetRoles = new Dictionary<Guid, string>();
        foreach (var dataset in datasetList)
        {
            var role = Dataset(dataset.Id);
            datasetRoles[dataset.Id] = role;
            desired.Roles.Add(role);
            foreach (var table in dataset.Tables) desired.TableGrants.Add((table.Schema, table.Table, role));
            foreach (var query in dataset.Queries)
            {
                var view = DataCutView(query.Id);
                desired.DataCuts[view] = query.Query;
                desired.DataCutRoles[view] = role;
                desired.TableGrants.Add((DataCutSchema, view, role));
            }

            if (dataset.AccessType != AccessType.RequiresAuthorization)
                desired.Memberships.Add((role, Everyone));
            else
                foreach (var domain in dataset.AuthorizedEmailDomains.Where(domain => domain.Length > 0))
                {
                    desired.Roles.Add(Domain(domain));
                    desired.Memberships.Add((role, Domain(domain)));
                }
        }

        foreach (var user in users)
        {
            var role = User(user.Id);
            desired.Roles.Add(role);
            desired.Schemas[role] = role;
            if (user.Deactivated) continue;
            desired.Memberships.Add((Everyone, role));
            var domain = new Reader(user.Id, user.Email).EmailDomain;
            if (domain.Length > 0)
            {
                desired.Roles.Add(Domain(domain));
                desired.Memberships.Add((Domain(domain), role));
            }
        }

        foreach (var permission in permissions)
            if (datasetRoles.TryGetValue(permission.DatasetId, out var role) && userIds.Contains(permission.UserId))
                desired.Memberships.Add((role, User(permission.UserId)));

        foreach (var team in teams)
        {
            var role = Team(team.Slug);
            desired.Roles.Add(role);
            desired.Schemas[role] = role;
            foreach (var member in team.Members.Where(m => userIds.Contains(m.UserId)))
            {
                desired.Memberships.Add((role, User(member.UserId)));
                desired.TeamWriters.Add((role, User(member.UserId)));
            }
        }

        // Visualisations read as themselves: a role each, holding only the datasets their developers gave them.
        foreach (var holders in scope.ServiceProvider.GetServices<IDatasetRoleHolders>())
        foreach (var holder in await holders.HoldersAsync(cancellationToken))
        {
            var role = User(holder.UserId);
            desired.Roles.Add(role);
            desired.Schemas[role] = role;
            foreach (var datasetId in holder.DatasetIds)
                if (datasetRoles.TryGetValue(datasetId, out var datasetRole)) desired.Memberships.Add((datasetRole, role));
        }

        // Domain roles nobody needs any more are dropped; a domain that only users have is still kept for them.
        return desired;
    }

    /// <summary>Runs the statements in batches of 200; returns how many there were.</summary>
    private static async Task<int> RunAsync(NpgsqlConnection connection, List<string> statements, CancellationToken cancellationToken)
    {
        foreach (var chunk in statements.Chunk(200))
        {
            await using var batch = new NpgsqlBatch(connection);
            foreach (var statement in chunk) batch.BatchCommands.Add(new NpgsqlBatchCommand(statement));
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }

        return statements.Count;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<HashSet<string>> SetAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        var values = new HashSet<string>(StringComparer.Ordinal);
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) values.Add(reader.GetString(0));
        return values;
    }
}
