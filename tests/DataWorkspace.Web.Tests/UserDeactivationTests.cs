using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using DataWorkspace.Contracts;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.Tools;
using DataWorkspace.Web.Users;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// An administrator deactivates a user on the admin user page, against a real PostgreSQL and a real tool process: the
/// user's sessions (every proxy replica is told, and ends them), tools, database logins and grants end at once, and
/// their signed identity is refused, until an administrator reactivates them.
/// </summary>
public sealed class UserDeactivationTests(WebFixture web) : IAsyncDisposable
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private readonly string workDirectory = Path.Combine(Path.GetTempPath(), "dw-leavers-test-" + Guid.NewGuid().ToString("N")[..8]);

    private WebApplicationFactory<Program> App => field ??= web.Factory.WithWebHostBuilder(host => host
        .UseSetting("Tools:LocalWorkDirectory", workDirectory)
        .UseSetting("Tools:SpawnTimeout", "00:00:30")
        .UseSetting("Tools:Templates:0:Name", "Notes")
        .UseSetting("Tools:Templates:0:HostBasename", "notes")
        .UseSetting("Tools:Templates:0:Command:0", "python3")
        .UseSetting("Tools:Templates:0:Command:1", "-m")
        .UseSetting("Tools:Templates:0:Command:2", "http.server")
        .UseSetting("Tools:Templates:0:Command:3", "{port}")
        .UseSetting("Tools:Templates:0:Command:4", "--bind")
        .UseSetting("Tools:Templates:0:Command:5", "127.0.0.1")
        .UseSetting("Tools:Templates:0:DefaultSize", "Small"));

    private async Task<PlatformIdentity> UserAsync(bool admin = false)
    {
        var user = CatalogueData.NewUser("leavers.example");
        if (admin) user = user with { Roles = [PlatformIdentity.AdminRole] };
        await web.ScalarAsync<object>("INSERT INTO users (id, email, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, now(), now())", user.UserId, user.Email, user.Name);
        await web.ScalarAsync<object>("INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test')", user.UserId);
        return user;
    }

    private HttpClient ClientOf(PlatformIdentity user)
    {
        var client = App.CreateClient(new() { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user));
        return client;
    }

    /// <summary>Presses a button of the admin user page, as the administrator's browser posts its form.</summary>
    private static async Task<HttpResponseMessage> PressAsync(HttpClient admin, PlatformIdentity user, string handler)
    {
        var page = await admin.GetStringAsync($"/admin/users/{user.UserId}", Cancel);
        var token = Regex.Match(page, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"").Groups[1].Value;
        return await admin.PostAsync($"/admin/users/{user.UserId}?handler={handler}",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = token }), Cancel);
    }

    private Task<long> MembershipsAsync(PlatformIdentity user) =>
        Sql.ScalarAsync<long>(web.DatasetsConnectionString,
            "SELECT count(*) FROM pg_auth_members am JOIN pg_roles m ON m.oid = am.member WHERE m.rolname = $1", DatabaseRoleNames.User(user.UserId));

    private Task<long> LoginRolesAsync(PlatformIdentity user) =>
        Sql.ScalarAsync<long>(web.DatasetsConnectionString, "SELECT count(*) FROM pg_roles WHERE rolname LIKE $1", $"\\_login\\_{user.Hash}\\_%");

    [Fact]
    public async Task A_deactivated_user_is_signed_out_their_tools_stop_their_logins_go_and_their_identity_is_refused()
    {
        var admin = await UserAsync(admin: true);
        var leaver = await UserAsync();
        using var asLeaver = ClientOf(leaver);
        using var asAdmin = ClientOf(admin);

        // Listening as every proxy replica does, a tool running, a database login in use, the everyone grant.
        await using var proxy = await AccountNoticesHeard.ListenAsync(web.CatalogueConnectionString);
        using var start = await asLeaver.PostAsJsonAsync("/api/v1/tools/notes/start", new { }, Cancel);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var toolId = (await start.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(Cancel)).GetProperty("id").GetGuid();
        await App.Services.GetRequiredService<ToolInstances>().SpawnedAsync(toolId);
        var toolAddress = (await web.ScalarAsync<string>("SELECT address FROM tool_instances WHERE id = $1 AND state = 'Running'", toolId))!;
        var login = await App.Services.GetRequiredService<DatabaseLogins>().PortalLoginAsync(leaver.UserId, Cancel);
        await using var explorerConnection = await login.DataSource.OpenConnectionAsync(Cancel);
        Assert.Equal(HttpStatusCode.OK, (await asLeaver.GetAsync("/", Cancel)).StatusCode);
        Assert.True(await MembershipsAsync(leaver) > 0);

        // Only an administrator may deactivate: an analyst cannot even see the page with the form.
        Assert.Equal(HttpStatusCode.Forbidden, (await asLeaver.GetAsync($"/admin/users/{admin.UserId}", Cancel)).StatusCode);
        var byAnalyst = await asLeaver.PostAsync($"/admin/users/{admin.UserId}?handler=Deactivate", new FormUrlEncodedContent([]), Cancel);
        Assert.True((int)byAnalyst.StatusCode is 400 or 403);
        Assert.Equal(HttpStatusCode.OK, (await asAdmin.GetAsync("/", Cancel)).StatusCode);

        var deactivated = await PressAsync(asAdmin, leaver, "Deactivate");

        Assert.Equal(HttpStatusCode.Redirect, deactivated.StatusCode);
        Assert.Contains("deactivated", Uri.UnescapeDataString(deactivated.Headers.Location!.ToString()));
        Assert.Contains("Deactivated", await asAdmin.GetStringAsync($"/admin/users/{leaver.UserId}", Cancel));
        Assert.Equal(admin.UserId, await web.ScalarAsync<string>("SELECT actor_id FROM audit_events WHERE action = $1 AND subject_user_id = $2", AuditActions.UserDeactivated, leaver.UserId));
        // Every proxy replica is told at once, and ends every session of theirs (the sessions are the proxy's own).
        await proxy.WaitForAsync(new AccountNotice(AccountChange.Deactivated, leaver.UserId));
        // Their tool was stopped, saying why, and no longer answers.
        Assert.Equal("Stopped", await web.ScalarAsync<string>("SELECT state FROM tool_instances WHERE id = $1", toolId));
        Assert.Contains("deactivated", await web.ScalarAsync<string>("SELECT stop_reason FROM tool_instances WHERE id = $1", toolId));
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => probe.GetAsync(toolAddress, Cancel));
        // Their logins are dropped, the connection they had open is closed, and their role holds no grants.
        Assert.Equal(0L, await LoginRolesAsync(leaver));
        await using (var query = new NpgsqlCommand("SELECT 1", explorerConnection))
            await Assert.ThrowsAnyAsync<Exception>(() => query.ExecuteScalarAsync(Cancel));
        Assert.Equal(0L, await MembershipsAsync(leaver));
        // Their signed identity is refused, and nothing new is given to them, at the next sync either.
        var refused = await asLeaver.GetAsync("/", Cancel);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("deactivated", await refused.Content.ReadAsStringAsync(Cancel));
        await Assert.ThrowsAsync<AccountDeactivatedException>(() => App.Services.GetRequiredService<DatabaseLogins>().PortalLoginAsync(leaver.UserId, Cancel));
        await App.Services.GetRequiredService<RoleSync>().SyncAsync(Cancel);
        await App.Services.GetRequiredService<DatabaseLogins>().DropExpiredAsync(Cancel);
        Assert.Equal(0L, await MembershipsAsync(leaver));
        Assert.Equal(0L, await LoginRolesAsync(leaver));
    }

    [Fact]
    public async Task A_reactivated_user_is_let_in_again_with_their_database_access()
    {
        var admin = await UserAsync(admin: true);
        var returner = await UserAsync();
        using var asReturner = ClientOf(returner);
        using var asAdmin = ClientOf(admin);
        Assert.Equal(HttpStatusCode.Redirect, (await PressAsync(asAdmin, returner, "Deactivate")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await asReturner.GetAsync("/", Cancel)).StatusCode);

        await using var proxy = await AccountNoticesHeard.ListenAsync(web.CatalogueConnectionString);

        var reactivated = await PressAsync(asAdmin, returner, "Reactivate");

        Assert.Equal(HttpStatusCode.Redirect, reactivated.StatusCode);
        await proxy.WaitForAsync(new AccountNotice(AccountChange.Reactivated, returner.UserId));
        Assert.Equal(admin.UserId, await web.ScalarAsync<string>("SELECT actor_id FROM audit_events WHERE action = $1 AND subject_user_id = $2", AuditActions.UserReactivated, returner.UserId));
        Assert.Equal(HttpStatusCode.OK, (await asReturner.GetAsync("/", Cancel)).StatusCode);
        var login = await App.Services.GetRequiredService<DatabaseLogins>().PortalLoginAsync(returner.UserId, Cancel);
        await using var connection = await login.DataSource.OpenConnectionAsync(Cancel);
        await using var everyone = new NpgsqlCommand("SELECT pg_has_role(current_user, '_datasets_everyone', 'USAGE')", connection);
        Assert.Equal(true, await everyone.ExecuteScalarAsync(Cancel));
    }

    [Fact]
    public async Task An_administrator_cannot_deactivate_themselves()
    {
        var admin = await UserAsync(admin: true);
        using var asAdmin = ClientOf(admin);

        var response = await PressAsync(asAdmin, admin, "Deactivate");

        Assert.Contains("cannot deactivate your own account", Uri.UnescapeDataString(response.Headers.Location!.ToString()));
        Assert.Equal(HttpStatusCode.OK, (await asAdmin.GetAsync("/", Cancel)).StatusCode);
    }

    public async ValueTask DisposeAsync()
    {
        if (App is { } app) await app.DisposeAsync();
        TestDirectories.Delete(workDirectory);
    }
}

/// <summary>Account notices as a proxy replica hears them: on their own connection, listening on the channel.</summary>
internal sealed class AccountNoticesHeard : IAsyncDisposable
{
    private readonly NpgsqlConnection connection;
    private readonly List<AccountNotice> heard = [];

    private AccountNoticesHeard(NpgsqlConnection connection)
    {
        this.connection = connection;
        connection.Notification += (_, notification) =>
        {
            if (AccountNotice.FromPayload(notification.Payload) is { } notice) heard.Add(notice);
        };
    }

    public static async Task<AccountNoticesHeard> ListenAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using (var listen = new NpgsqlCommand($"LISTEN {AccountNotice.Channel}", connection))
            await listen.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        return new AccountNoticesHeard(connection);
    }

    /// <summary>Waits up to ten seconds for <paramref name="notice"/>.</summary>
    public async Task WaitForAsync(AccountNotice notice)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            while (!heard.Contains(notice)) await connection.WaitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"No {notice} was heard in ten seconds; heard: {string.Join(", ", heard)}");
        }
    }

    public ValueTask DisposeAsync() => connection.DisposeAsync();
}
