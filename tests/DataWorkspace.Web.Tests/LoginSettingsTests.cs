using DataWorkspace.TestSupport;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DatabaseAccess;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// A PostgreSQL of its own, migrated: roles and their settings belong to the whole cluster, so a platform run here with
/// other data access options than the shared cluster's platforms neither disturbs them nor is undone by them.
/// </summary>
public sealed class SeparateCluster : IAsyncLifetime
{
    public PostgresCluster Postgres { get; } = new();
    public string Catalogue { get; private set; } = "";
    public string Datasets { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        await Postgres.InitializeAsync();
        Catalogue = Postgres.ConnectionString("catalogue");
        Datasets = Postgres.ConnectionString("datasets");
        var exitCode = await DatabaseMigrator.RunAsync([DatabaseMigrator.Command, $"--ConnectionStrings:catalogue={Catalogue}", $"--ConnectionStrings:datasets={Datasets}"]);
        if (exitCode != 0) throw new InvalidOperationException($"The migration step failed with exit code {exitCode}");
    }

    /// <summary>A run of the platform on these databases with <paramref name="settings"/>.</summary>
    public WebApplicationFactory<Program> Platform(params (string Key, string Value)[] settings) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(host =>
        {
            host.UseSetting("ConnectionStrings:catalogue", Catalogue).UseSetting("ConnectionStrings:datasets", Datasets);
            foreach (var (key, value) in settings) host.UseSetting(key, value);
        });

    public ValueTask DisposeAsync() => Postgres.DisposeAsync();
}

/// <summary>The platform restarted with changed data access options: what reaches the database logins made before.</summary>
public sealed class LoginSettingsTests(SeparateCluster cluster) : IClassFixture<SeparateCluster>
{
    private string Catalogue => cluster.Catalogue;
    private string Datasets => cluster.Datasets;
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private WebApplicationFactory<Program> Platform(params (string Key, string Value)[] settings) => cluster.Platform(settings);

    private async Task<string> UserAsync()
    {
        var user = CatalogueData.NewUser("partner.example");
        await Sql.ScalarAsync<object>(Catalogue, "INSERT INTO users (id, email, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, now(), now())", user.UserId, user.Email, user.Name);
        return user.UserId;
    }

    /// <summary>A new session of the login, as a tool or the Data Explorer opens one.</summary>
    private async Task<T> AsLoginAsync<T>(UserLogin login, string sql)
    {
        var direct = new NpgsqlConnectionStringBuilder(Datasets) { Username = login.RoleName, Password = login.Password, Pooling = false };
        return (await Sql.ScalarAsync<T>(direct.ConnectionString, sql))!;
    }

    [Fact]
    public async Task Changed_limits_reach_a_login_made_before_the_restart_at_the_next_synchronisation()
    {
        var userId = await UserAsync();
        UserLogin login;
        await using (var before = Platform(("DataAccess:StatementTimeout", "00:20:00")))
            login = await before.Services.GetRequiredService<DatabaseLogins>().PortalLoginAsync(userId, Cancel);
        Assert.Equal("20min", await AsLoginAsync<string>(login, "SHOW statement_timeout"));
        Assert.Equal(10, await Sql.ScalarAsync<int>(Datasets, "SELECT rolconnlimit FROM pg_roles WHERE rolname = $1", login.RoleName));

        await using var after = Platform(("DataAccess:StatementTimeout", "00:00:01"), ("DataAccess:WorkMemory", "64MB"), ("DataAccess:ConnectionLimit", "3"));
        await after.Services.GetRequiredService<RoleSync>().SyncAsync(Cancel);

        Assert.Equal("1s", await AsLoginAsync<string>(login, "SHOW statement_timeout"));
        Assert.Equal("64MB", await AsLoginAsync<string>(login, "SHOW work_mem"));
        Assert.Equal(3, await Sql.ScalarAsync<int>(Datasets, "SELECT rolconnlimit FROM pg_roles WHERE rolname = $1", login.RoleName));
        var cancelled = await Assert.ThrowsAsync<PostgresException>(() => AsLoginAsync<object>(login, "SELECT pg_sleep(3)"));
        Assert.Equal(PostgresErrorCodes.QueryCanceled, cancelled.SqlState);
        // The session is still its user's, in the user's schema.
        Assert.Equal(DatabaseRoleNames.User(userId), await AsLoginAsync<string>(login, "SELECT current_user"));
        Assert.Equal(DatabaseRoleNames.User(userId), await AsLoginAsync<string>(login, "SELECT current_schema()"));
        // Idempotent: a synchronisation with nothing to change changes nothing.
        Assert.Equal(0, (await after.Services.GetRequiredService<RoleSync>().SyncAsync(Cancel)).Statements);
    }

    [Fact]
    public async Task A_setting_taken_out_of_the_options_is_taken_off_existing_logins()
    {
        var userId = await UserAsync();
        UserLogin login;
        await using (var before = Platform(("DataAccess:WorkMemory", "64MB")))
            login = await before.Services.GetRequiredService<DatabaseLogins>().PortalLoginAsync(userId, Cancel);
        Assert.Equal("64MB", await AsLoginAsync<string>(login, "SHOW work_mem"));

        await using var after = Platform();
        await after.Services.GetRequiredService<RoleSync>().SyncAsync(Cancel);

        Assert.Equal(await Sql.ScalarAsync<string>(Datasets, "SHOW work_mem"), await AsLoginAsync<string>(login, "SHOW work_mem"));
    }

    [Theory]
    [InlineData("DataAccess:WorkMemory", "lots", "DataAccess:WorkMemory 'lots' must be a size such as 4096kB, 64MB or 1GB.")]
    [InlineData("DataAccess:ConnectionLimit", "0", "DataAccess:ConnectionLimit must be at least 1 (or -1 for no limit).")]
    [InlineData("DataAccess:PortalLoginLifetime", "00:30:00", "DataAccess:PortalLoginLifetime must be longer than an hour, e.g. 1.00:00:00.")]
    [InlineData("DataAccess:MaxToolLoginLifetime", "00:15:00", "DataAccess:MaxToolLoginLifetime must be at least four times DataAccess:SyncInterval")]
    public async Task A_bad_option_stops_the_platform_at_start_saying_what_is_wrong(string key, string value, string message)
    {
        await using var platform = Platform((key, value));

        var failure = Assert.ThrowsAny<Exception>(() => platform.Services);

        Assert.Contains(message, failure.ToString());
    }
}
