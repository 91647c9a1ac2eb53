using System.Net;
using DataWorkspace.Contracts;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.DatabaseAccess;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// Access enforced by PostgreSQL: every read here goes through the user's own short-lived login, exactly as the Data
/// Explorer, downloads and tools connect.
/// </summary>
public sealed class DatabaseAccessTests(WebFixture web)
{
    private readonly CatalogueData data = new(web);
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private T Service<T>() where T : notnull => web.Factory.Services.GetRequiredService<T>();

    private async Task<PlatformIdentity> UserAsync(string domain = "partner.example")
    {
        var user = CatalogueData.NewUser(domain);
        await Sql.ScalarAsync<object>(web.CatalogueConnectionString,
            "INSERT INTO users (id, email, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, now(), now())", user.UserId, user.Email, user.Name);
        return user;
    }

    private async Task<object?> ReadAsync(PlatformIdentity user, string sql)
    {
        var login = await Service<DatabaseLogins>().PortalLoginAsync(user.UserId, Cancel);
        await using var command = login.DataSource.CreateCommand(sql);
        return await command.ExecuteScalarAsync(Cancel);
    }

    private static string TableOf(Dataset dataset) => $"{dataset.Tables[0].Schema}.{dataset.Tables[0].Table}";

    private async Task<PostgresException> DeniedAsync(PlatformIdentity user, string sql)
    {
        var denied = await Assert.ThrowsAsync<PostgresException>(() => ReadAsync(user, sql));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, denied.SqlState);
        return denied;
    }

    [Fact]
    public async Task A_login_reads_open_domain_and_granted_tables_and_is_refused_the_rest()
    {
        var open = await data.DatasetAsync(AccessType.Open);
        var signedIn = await data.DatasetAsync(AccessType.RequiresAuthentication);
        var byDomain = await data.DatasetAsync(AccessType.RequiresAuthorization, ["partner.example"]);
        var granted = await data.DatasetAsync(AccessType.RequiresAuthorization);
        var other = await data.DatasetAsync(AccessType.RequiresAuthorization);
        var user = await UserAsync();
        await data.GrantAsync(granted, user, DateTimeOffset.UtcNow.AddDays(30));
        await Service<RoleSync>().SyncAsync(Cancel);

        foreach (var dataset in new[] { open, signedIn, byDomain, granted })
            Assert.Equal(3L, await ReadAsync(user, $"SELECT count(*) FROM {TableOf(dataset)}"));
        var denied = await DeniedAsync(user, $"SELECT count(*) FROM {TableOf(other)}");
        Assert.Contains("permission denied for table rows", denied.MessageText);

        // The session runs as the user's permanent role, not as the login.
        Assert.Equal(DatabaseRoleNames.User(user.UserId), await ReadAsync(user, "SELECT current_user"));
    }

    [Fact]
    public async Task Revoked_and_expired_access_is_gone_after_the_next_sync()
    {
        var revoked = await data.DatasetAsync(AccessType.RequiresAuthorization);
        var expiring = await data.DatasetAsync(AccessType.RequiresAuthorization);
        var user = await UserAsync();
        await data.GrantAsync(revoked, user, null);
        await data.GrantAsync(expiring, user, DateTimeOffset.UtcNow.AddDays(30));
        await Service<RoleSync>().SyncAsync(Cancel);
        Assert.Equal(3L, await ReadAsync(user, $"SELECT count(*) FROM {TableOf(revoked)}"));
        Assert.Equal(3L, await ReadAsync(user, $"SELECT count(*) FROM {TableOf(expiring)}"));

        await Sql.ScalarAsync<object>(web.CatalogueConnectionString,
            "UPDATE dataset_permissions SET ended_at = now(), end_reason = 'Revoked', ended_by = 'test' WHERE dataset_id = $1", revoked.Id);
        await Sql.ScalarAsync<object>(web.CatalogueConnectionString,
            "UPDATE dataset_permissions SET expires_at = now() - interval '1 minute' WHERE dataset_id = $1", expiring.Id);
        // This sync, or one another app instance on the same database ran a moment before, takes them away.
        await Service<RoleSync>().SyncAsync(Cancel);

        await DeniedAsync(user, $"SELECT count(*) FROM {TableOf(revoked)}");
        await DeniedAsync(user, $"SELECT count(*) FROM {TableOf(expiring)}");
        // Idempotent: nothing left to change.
        Assert.Equal(0, (await Service<RoleSync>().SyncAsync(Cancel)).Statements);
    }

    [Fact]
    public async Task Concurrent_synchronisations_take_turns_and_agree()
    {
        var dataset = await data.DatasetAsync(AccessType.RequiresAuthorization);
        var user = await UserAsync();
        await data.GrantAsync(dataset, user, null);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Service<RoleSync>().SyncAsync(Cancel)));
        Assert.Equal(3L, await ReadAsync(user, $"SELECT count(*) FROM {TableOf(dataset)}"));
    }

    [Fact]
    public async Task A_team_schema_is_writable_by_its_members_only_and_a_private_schema_by_its_owner_only()
    {
        var member = await UserAsync();
        var colleague = await UserAsync();
        var outsider = await UserAsync();
        var slug = "t_" + Guid.NewGuid().ToString("N")[..10];
        await using (var context = data.Context())
        {
            context.Add(new Team
            {
                Slug = slug, Name = "Test team", CreatedAt = DateTimeOffset.UtcNow,
                Members = [new TeamMember { UserId = member.UserId }, new TeamMember { UserId = colleague.UserId }],
            });
            await context.SaveChangesAsync(Cancel);
        }

        await Service<RoleSync>().SyncAsync(Cancel);
        var team = DatabaseRoleNames.Team(slug);

        await ReadAsync(member, $"CREATE TABLE \"{team}\".results AS SELECT 42 AS answer");
        Assert.Equal(42, await ReadAsync(colleague, $"SELECT answer FROM \"{team}\".results"));
        await ReadAsync(colleague, $"INSERT INTO \"{team}\".results VALUES (43)");
        await DeniedAsync(outsider, $"SELECT count(*) FROM \"{team}\".results");
        var denied = await DeniedAsync(outsider, $"CREATE TABLE \"{team}\".mine (x int)");
        Assert.Contains("permission denied for schema", denied.MessageText);

        // A private schema: the owner writes there by default; nobody else can read it.
        await ReadAsync(member, "CREATE TABLE notes AS SELECT 'private' AS note");
        var own = DatabaseRoleNames.User(member.UserId);
        Assert.Equal("private", await ReadAsync(member, $"SELECT note FROM \"{own}\".notes"));
        await DeniedAsync(colleague, $"SELECT note FROM \"{own}\".notes");
    }

    [Fact]
    public async Task Retiring_a_login_that_another_replica_has_already_dropped_is_not_an_error()
    {
        var user = await UserAsync();
        var logins = Service<DatabaseLogins>();
        var login = await logins.ToolLoginAsync(user.UserId, TimeSpan.FromHours(1), Cancel);
        // Another replica's sweep ends and drops it between this replica's decision to retire it and the retirement.
        await Sql.ScalarAsync<object>(web.CatalogueConnectionString, "UPDATE database_logins SET expires_at = now() - interval '1 second' WHERE role_name = $1", login.RoleName);
        await logins.DropExpiredAsync(Cancel);
        Assert.Equal(0L, await Sql.ScalarAsync<long>(web.DatasetsConnectionString, "SELECT count(*) FROM pg_roles WHERE rolname = $1", login.RoleName));

        await logins.RetireAsync(login.RoleName, Cancel);

        Assert.Equal(0L, await Sql.ScalarAsync<long>(web.DatasetsConnectionString, "SELECT count(*) FROM pg_roles WHERE rolname = $1", login.RoleName));
    }

    [Fact]
    public async Task First_logins_asked_for_together_share_a_synchronisation()
    {
        // Many users' first queries at once must not each wait for a whole synchronisation in turn.
        const int Users = 12;
        var users = new List<PlatformIdentity>();
        for (var i = 0; i < Users; i++) users.Add(await UserAsync());
        var syncs = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == Telemetry.WebTelemetry.Name && instrument.Name == "dataworkspace.permissions.sync.duration") listener.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref syncs));
        listener.Start();

        var logins = await Task.WhenAll(users.Select(user => Service<DatabaseLogins>().PortalLoginAsync(user.UserId, Cancel)));

        Assert.Equal(Users, logins.Select(login => login.RoleName).Distinct().Count());
        Assert.InRange(syncs, 1, Users - 1);
        foreach (var user in users) Assert.Equal(1, await ReadAsync(user, "SELECT 1"));
    }

    [Fact]
    public async Task Expired_logins_are_dropped_but_not_while_a_session_still_uses_them()
    {
        var user = await UserAsync();
        var logins = Service<DatabaseLogins>();
        var login = await logins.PortalLoginAsync(user.UserId, Cancel);
        await using var command = login.DataSource.CreateCommand("CREATE TABLE kept AS SELECT 1 AS x");
        await command.ExecuteNonQueryAsync(Cancel);

        // A session is open on the login (outside the pool the sweep closes) when it expires.
        var direct = new NpgsqlConnectionStringBuilder(web.DatasetsConnectionString) { Username = login.RoleName, Password = login.Password, Pooling = false };
        await using (var session = new NpgsqlConnection(direct.ConnectionString))
        {
            await session.OpenAsync(Cancel);
            await Sql.ScalarAsync<object>(web.CatalogueConnectionString, "UPDATE database_logins SET expires_at = now() - interval '1 second' WHERE role_name = $1", login.RoleName);
            await logins.DropExpiredAsync(Cancel);
            Assert.Equal(1L, await Sql.ScalarAsync<long>(web.DatasetsConnectionString, "SELECT count(*) FROM pg_roles WHERE rolname = $1", login.RoleName));
            await using var still = new NpgsqlCommand("SELECT 1", session);
            Assert.Equal(1, await still.ExecuteScalarAsync(Cancel));
        }

        await logins.DropExpiredAsync(Cancel);
        Assert.Equal(0L, await Sql.ScalarAsync<long>(web.DatasetsConnectionString, "SELECT count(*) FROM pg_roles WHERE rolname = $1", login.RoleName));
        Assert.NotNull(await Sql.ScalarAsync<DateTime?>(web.CatalogueConnectionString, "SELECT dropped_at FROM database_logins WHERE role_name = $1", login.RoleName));
        // What the login made belongs to the user and outlives it; the next login is a new role.
        var next = await logins.PortalLoginAsync(user.UserId, Cancel);
        Assert.NotEqual(login.RoleName, next.RoleName);
        Assert.Equal(1, await ReadAsync(user, "SELECT x FROM kept"));
    }

    [Fact]
    public async Task A_data_cut_being_read_is_replaced_once_free_without_holding_up_its_readers_or_the_synchronisation()
    {
        var dataset = await data.DatasetAsync(AccessType.Open);
        var query = new CustomQuery { DatasetId = dataset.Id, Name = "Labels", Query = $"SELECT label FROM {TableOf(dataset)} WHERE id = 1" };
        await using (var context = data.Context())
        {
            context.Add(query);
            await context.SaveChangesAsync(Cancel);
        }

        var user = await UserAsync();
        await Service<RoleSync>().SyncAsync(Cancel);
        var view = $"{DatabaseRoleNames.DataCutSchema}.{DatabaseRoleNames.DataCutView(query.Id)}";
        var login = await Service<DatabaseLogins>().PortalLoginAsync(user.UserId, Cancel);
        await using var reader = await login.DataSource.OpenConnectionAsync(Cancel);
        await using var transaction = await reader.BeginTransactionAsync(Cancel);
        await using (var read = new NpgsqlCommand($"SELECT count(*) FROM {view}", reader, transaction))
            Assert.Equal(1L, await read.ExecuteScalarAsync(Cancel));

        await Sql.ScalarAsync<object>(web.CatalogueConnectionString, "UPDATE custom_queries SET query = $1 WHERE id = $2", $"SELECT label FROM {TableOf(dataset)}", query.Id);
        // The synchronisation finishes while the reader's transaction is still open (it would otherwise wait for it to end).
        var sync = Service<RoleSync>().SyncAsync(Cancel);
        var finished = await Task.WhenAny(sync, Task.Delay(TimeSpan.FromSeconds(20), Cancel)) == sync;
        if (!finished) await transaction.RollbackAsync(Cancel);
        Assert.True(finished, "The synchronisation waited for a reader of the data cut to end its transaction.");
        Assert.Contains((await sync).Skipped, reason => reason.Contains(DatabaseRoleNames.DataCutView(query.Id)) && reason.Contains("a running query reads it"));
        await using (var still = new NpgsqlCommand($"SELECT count(*) FROM {view}", reader, transaction))
            Assert.Equal(1L, await still.ExecuteScalarAsync(Cancel));
        Assert.Equal(1L, await ReadAsync(user, $"SELECT count(*) FROM {view}"));
        await transaction.CommitAsync(Cancel);

        await Service<RoleSync>().SyncAsync(Cancel);
        Assert.Equal(3L, await ReadAsync(user, $"SELECT count(*) FROM {view}"));
    }

    [Fact]
    public async Task Download_streams_csv_for_readers_403_without_access_404_for_unknown_tables()
    {
        var restricted = await data.DatasetAsync(AccessType.RequiresAuthorization);
        var reader = await UserAsync();
        var stranger = await UserAsync();
        await data.GrantAsync(restricted, reader, null);
        var path = $"/datasets/{restricted.Slug}/tables/rows/download";

        using var ok = await web.GetAsync(path, reader);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("text/csv", ok.Content.Headers.ContentType?.MediaType);
        var lines = (await ok.Content.ReadAsStringAsync(Cancel)).TrimEnd('\n').Split('\n');
        Assert.Equal("id,label", lines[0]);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("1,alpha-", lines[1]);

        using var forbidden = await web.GetAsync(path, stranger);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Contains("Ask for access", await forbidden.Content.ReadAsStringAsync(Cancel));

        using var unknown = await web.GetAsync($"/datasets/{restricted.Slug}/tables/nope/download", reader);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        var audit = await web.ScalarAsync<string>("SELECT summary FROM audit_events WHERE action = 'table.downloaded' AND dataset_id = $1", restricted.Id);
        Assert.Contains("3 rows", audit);
    }
}
