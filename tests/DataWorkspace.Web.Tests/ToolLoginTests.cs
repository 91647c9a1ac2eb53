using DataWorkspace.Contracts;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Tools;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// A tool's database login over the tool's life: it stays valid, with the same password, for as long as the tool runs,
/// however long that is; and it ends when the tool ends, however the tool ended.
/// </summary>
public sealed class ToolLoginTests(WebFixture web) : IAsyncDisposable
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private readonly string workDirectory = Path.Combine(Path.GetTempPath(), "dw-tool-logins-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>A run of the platform whose one tool writes what it was given to env.txt and serves it.</summary>
    private WebApplicationFactory<Program> Platform() => web.Factory.WithWebHostBuilder(host => host
        .UseSetting("Tools:LocalWorkDirectory", workDirectory)
        .UseSetting("Tools:Templates:0:Name", "Logins")
        .UseSetting("Tools:Templates:0:HostBasename", "logins")
        .UseSetting("Tools:Templates:0:Command:0", "sh")
        .UseSetting("Tools:Templates:0:Command:1", "-c")
        .UseSetting("Tools:Templates:0:Command:2", "env > env.txt && exec python3 -m http.server {port} --bind 127.0.0.1"));

    private WebApplicationFactory<Program> App => field ??= Platform();

    /// <summary>A user's running tool, and the connection string its own environment gives it.</summary>
    private async Task<(ToolInstance Instance, string Database)> RunningToolAsync()
    {
        var user = CatalogueData.NewUser("partner.example");
        await web.ScalarAsync<object>("INSERT INTO users (id, email, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, now(), now())", user.UserId, user.Email, user.Name);
        await web.ScalarAsync<object>("INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test')", user.UserId);
        var tools = App.Services.GetRequiredService<ToolInstances>();
        var started = await tools.StartAsync(user, "logins", null, Cancel);
        await tools.SpawnedAsync(started.Id);
        var instance = (await tools.ActiveAsync(started.Host, Cancel))!;
        Assert.Equal(ToolInstanceState.Running, instance.State);

        using var http = new HttpClient();
        var environment = (await http.GetStringAsync(instance.Address + "/env.txt", Cancel)).Split('\n')
            .Where(line => line.Contains('=')).ToDictionary(line => line[..line.IndexOf('=')], line => line[(line.IndexOf('=') + 1)..]);
        var database = new NpgsqlConnectionStringBuilder
        {
            Host = environment["PGHOST"], Port = int.Parse(environment["PGPORT"]), Database = environment["PGDATABASE"],
            Username = environment["PGUSER"], Password = environment["PGPASSWORD"], Pooling = false,
        };
        Assert.Equal(DatabaseRoleNames.User(user.UserId), await Sql.ScalarAsync<string>(database.ConnectionString, "SELECT current_user"));
        return (instance, database.ConnectionString);
    }

    [Fact]
    public async Task A_tool_running_past_its_logins_first_end_still_connects_with_the_same_credentials_after_a_synchronisation()
    {
        var (instance, database) = await RunningToolAsync();
        // The tool has run until moments before the end its login was made with.
        var firstEnd = DateTimeOffset.UtcNow.AddSeconds(3);
        await web.ScalarAsync<object>("UPDATE database_logins SET expires_at = $2 WHERE role_name = $1", instance.LoginRole!, firstEnd);
        await Sql.ScalarAsync<object>(web.DatasetsConnectionString, $"ALTER ROLE \"{instance.LoginRole}\" VALID UNTIL '{firstEnd.UtcDateTime:O}'");

        await App.Services.GetRequiredService<DataAccessJob>().RunOnceAsync(Cancel);
        var wait = firstEnd - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1);
        if (wait > TimeSpan.Zero) await Task.Delay(wait, Cancel);

        Assert.Equal(1, await Sql.ScalarAsync<int>(database, "SELECT 1"));
        Assert.True(await Sql.ScalarAsync<bool>(web.DatasetsConnectionString, "SELECT rolvaliduntil > now() + interval '12 hours' FROM pg_roles WHERE rolname = $1", instance.LoginRole!));
        Assert.True(await web.ScalarAsync<bool>("SELECT expires_at > now() + interval '12 hours' FROM database_logins WHERE role_name = $1", instance.LoginRole!));
        await App.Services.GetRequiredService<ToolInstances>().StopAsync(instance.Id, null, Web.Audit.Actor.System, new ToolStop(ToolStopCause.Administrator, "the test ended"), Cancel);
    }

    [Fact]
    public async Task A_tool_that_ended_with_the_platform_loses_its_login_at_the_next_synchronisation()
    {
        var (instance, database) = await RunningToolAsync();

        // The platform goes down and its local tools with it; the next run finds the tool gone and records it stopped.
        using (var process = System.Diagnostics.Process.GetProcessById(int.Parse(instance.LauncherHandle!)))
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(Cancel);
        }

        await using var restarted = Platform();
        await restarted.Services.GetRequiredService<DataAccessJob>().RunOnceAsync(Cancel);

        Assert.Equal("Stopped", await web.ScalarAsync<string>("SELECT state FROM tool_instances WHERE id = $1", instance.Id));
        var refused = await Assert.ThrowsAsync<PostgresException>(() => Sql.ScalarAsync<int>(database, "SELECT 1"));
        Assert.Equal(PostgresErrorCodes.InvalidPassword, refused.SqlState);
        Assert.Equal(0L, await Sql.ScalarAsync<long>(web.DatasetsConnectionString, "SELECT count(*) FROM pg_roles WHERE rolname = $1", instance.LoginRole!));
    }

    public async ValueTask DisposeAsync()
    {
        if (App is { } app) await app.DisposeAsync();
        TestDirectories.Delete(workDirectory);
    }
}
