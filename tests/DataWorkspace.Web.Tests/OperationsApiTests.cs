using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using DataWorkspace.Contracts;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Operations;
using DataWorkspace.Web.Tools;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// The operations API behind the Aspire dashboard's commands: each operation does its work when called with the key
/// the AppHost generated, and is refused without it, with another key, with a user's or the proxy's identity, and on a
/// web app given no key at all (a deployment).
/// </summary>
public sealed class OperationsApiTests(WebFixture web) : IAsyncDisposable
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private static readonly string[] Operations = ["permission-sync", "cull-idle-tools", "demo-data"];
    private readonly string key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private readonly string workDirectory = Path.Combine(Path.GetTempPath(), "dw-operations-test-" + Guid.NewGuid().ToString("N")[..8]);

    private WebApplicationFactory<Program> App => field ??= web.Factory.WithWebHostBuilder(host => host
        .UseSetting(OperationsApi.KeySetting, key)
        .UseSetting("Tools:LocalWorkDirectory", workDirectory)
        .UseSetting("Tools:IdleTimeout", "00:10:00")
        .UseSetting("Tools:Templates:0:Name", "Idle")
        .UseSetting("Tools:Templates:0:HostBasename", "idle")
        .UseSetting("Tools:Templates:0:Command:0", "python3")
        .UseSetting("Tools:Templates:0:Command:1", "-m")
        .UseSetting("Tools:Templates:0:Command:2", "http.server")
        .UseSetting("Tools:Templates:0:Command:3", "{port}")
        .UseSetting("Tools:Templates:0:Command:4", "--bind")
        .UseSetting("Tools:Templates:0:Command:5", "127.0.0.1"));

    private static async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(WebApplicationFactory<Program> app, string operation, Action<HttpRequestMessage>? credentials)
    {
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{OperationsApi.Prefix}/{operation}") { Content = JsonContent.Create(new { }) };
        credentials?.Invoke(request);
        using var response = await client.SendAsync(request, Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private Action<HttpRequestMessage> Bearer(string value) => request => request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", value);

    [Fact]
    public async Task Every_operation_is_refused_without_the_key_with_another_key_with_a_users_or_the_proxys_identity_and_where_no_key_is_set()
    {
        var user = CatalogueData.NewUser("partner.example");
        var admin = new PlatformIdentity("ops-admin-" + Guid.NewGuid().ToString("N")[..8], "ops-admin@trade.example", "Ops Admin", [PlatformIdentity.AdminRole], "127.0.0.1");
        var refusals = new List<(string Operation, string How, Action<HttpRequestMessage>? Credentials, WebApplicationFactory<Program> App)>();
        foreach (var operation in Operations)
        {
            refusals.Add((operation, "no key", null, App));
            refusals.Add((operation, "another key", Bearer(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))), App));
            refusals.Add((operation, "the key without Bearer", request => request.Headers.TryAddWithoutValidation("Authorization", key), App));
            refusals.Add((operation, "a user's identity", request => request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user)), App));
            refusals.Add((operation, "an admin's identity", request => request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(admin)), App));
            refusals.Add((operation, "the proxy's identity", request => request.Headers.TryAddWithoutValidation(IdentityHeaders.ServiceIdentity, web.Tokens().IssueService()), App));
            refusals.Add((operation, "a key where none is set", Bearer(key), web.Factory));
        }

        foreach (var (operation, how, credentials, app) in refusals)
        {
            var (status, body) = await PostAsync(app, operation, credentials);
            Assert.True(status == HttpStatusCode.Forbidden, $"{operation} with {how}: {(int)status} {body}");
            Assert.Contains("for the platform's operators", body.GetProperty("detail").GetString());
        }

        var (unset, unsetBody) = await PostAsync(web.Factory, "permission-sync", Bearer(key));
        Assert.Equal(HttpStatusCode.Forbidden, unset);
        Assert.Contains("operations are not enabled here", unsetBody.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task The_permission_sync_gives_a_new_dataset_its_role_at_once_and_says_what_it_changed()
    {
        var dataset = await new CatalogueData(web).DatasetAsync(AccessType.RequiresAuthorization);

        var (status, body) = await PostAsync(App, "permission-sync", Bearer(key));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Matches("^Database roles and grants synchronised with the catalogue: [0-9]+ changes", body.GetProperty("message").GetString());
        Assert.Equal(1L, await TestSupport.Sql.ScalarAsync<long>(web.DatasetsConnectionString, "SELECT count(*) FROM pg_roles WHERE rolname = $1", DatabaseRoleNames.Dataset(dataset.Id)));
    }

    [Fact]
    public async Task Culling_now_stops_an_idle_tool_and_says_so()
    {
        var user = CatalogueData.NewUser("partner.example");
        await web.ScalarAsync<object>("INSERT INTO users (id, email, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, now(), now())", user.UserId, user.Email, user.Name);
        await web.ScalarAsync<object>("INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test')", user.UserId);
        var instance = await App.Services.GetRequiredService<ToolInstances>().StartAsync(user, "idle", null, Cancel);
        await App.Services.GetRequiredService<ToolInstances>().SpawnedAsync(instance.Id);
        Assert.Equal("Running", await web.ScalarAsync<string>("SELECT state FROM tool_instances WHERE id = $1", instance.Id));
        await web.ScalarAsync<object>("UPDATE tool_instances SET last_activity_at = now() - interval '1 hour' WHERE id = $1", instance.Id);

        var (status, body) = await PostAsync(App, "cull-idle-tools", Bearer(key));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.StartsWith("Stopped", body.GetProperty("message").GetString());
        Assert.Equal("Stopped", await web.ScalarAsync<string>("SELECT state FROM tool_instances WHERE id = $1", instance.Id));
        Assert.StartsWith("it was idle for 10 minutes", await web.ScalarAsync<string>("SELECT stop_reason FROM tool_instances WHERE id = $1", instance.Id));
    }

    public async ValueTask DisposeAsync()
    {
        if (App is { } app) await app.DisposeAsync();
        if (Directory.Exists(workDirectory)) Directory.Delete(workDirectory, recursive: true);
    }
}
