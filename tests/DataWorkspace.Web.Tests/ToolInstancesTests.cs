using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DataWorkspace.Contracts;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Tools;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// Launching tools with the Local launcher, against a real PostgreSQL: each tool is a real process (Python's HTTP
/// server) started with the user's own short-lived database login and nothing else of the platform's configuration.
/// </summary>
public sealed class ToolInstancesTests(WebFixture web) : IAsyncDisposable
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private readonly string workDirectory = Path.Combine(Path.GetTempPath(), "dw-tools-test-" + Guid.NewGuid().ToString("N")[..8]);

    private WebApplicationFactory<Program> App => field ??= web.Factory.WithWebHostBuilder(host => host
        .UseSetting("Tools:LocalWorkDirectory", workDirectory)
        .UseSetting("Tools:SpawnTimeout", "00:00:30")
        // A tool that writes what it was given to env.txt and origin.txt, then serves its home folder.
        .UseSetting("Tools:Templates:0:Name", "Files")
        .UseSetting("Tools:Templates:0:HostBasename", "files")
        .UseSetting("Tools:Templates:0:Command:0", "sh")
        .UseSetting("Tools:Templates:0:Command:1", "-c")
        .UseSetting("Tools:Templates:0:Command:2", "env > env.txt && echo {origin} > origin.txt && exec python3 -m http.server {port} --bind 127.0.0.1")
        .UseSetting("Tools:Templates:0:DefaultSize", "Small")
        .UseSetting("Tools:Templates:1:Name", "Broken")
        .UseSetting("Tools:Templates:1:HostBasename", "broken")
        .UseSetting("Tools:Templates:1:Command:0", "sh")
        .UseSetting("Tools:Templates:1:Command:1", "-c")
        .UseSetting("Tools:Templates:1:Command:2", "echo 'no licence for this tool' >&2; exit 3"));

    private async Task<PlatformIdentity> UserAsync(bool toolsAccess = true)
    {
        var user = CatalogueData.NewUser("partner.example");
        await web.ScalarAsync<object>("INSERT INTO users (id, email, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, now(), now())", user.UserId, user.Email, user.Name);
        if (toolsAccess)
            await web.ScalarAsync<object>("INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test')", user.UserId);
        return user;
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, PlatformIdentity user, object? body = null)
    {
        using var client = App.CreateClient();
        using var request = new HttpRequestMessage(method, path);
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user));
        if (body is not null) request.Content = JsonContent.Create(body);
        using var response = await client.SendAsync(request, Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private async Task<JsonElement> ToolAsync(PlatformIdentity user, string basename)
    {
        var (_, tools) = await SendAsync(HttpMethod.Get, "/api/v1/tools", user);
        return tools.EnumerateArray().Single(t => t.GetProperty("hostBasename").GetString() == basename);
    }

    [Fact]
    public async Task A_tool_starts_with_the_users_own_database_login_and_nothing_else_then_stops()
    {
        var user = await UserAsync();
        var (status, started) = await SendAsync(HttpMethod.Post, "/api/v1/tools/files/start", user, new { size = "Large" });
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal($"files-{user.Hash}", started.GetProperty("host").GetString());
        Assert.Equal($"http://files-{user.Hash}.dataworkspace.localhost:8000/", started.GetProperty("url").GetString());
        var id = started.GetProperty("id").GetGuid();
        await App.Services.GetRequiredService<ToolInstances>().SpawnedAsync(id);

        var tool = await ToolAsync(user, "files");
        Assert.Equal("Running", tool.GetProperty("state").GetString());
        Assert.Equal("Large", tool.GetProperty("size").GetString());

        // Starting again gives the same instance: one per user per tool.
        var (_, again) = await SendAsync(HttpMethod.Post, "/api/v1/tools/files/start", user);
        Assert.Equal(id, again.GetProperty("id").GetGuid());

        // The tool answers at its address and was given the user's login, not the platform's settings.
        var address = await web.ScalarAsync<string>("SELECT address FROM tool_instances WHERE id = $1", id);
        using var http = new HttpClient();
        var environment = (await http.GetStringAsync(address + "/env.txt", Cancel)).Split('\n')
            .Where(line => line.Contains('=')).ToDictionary(line => line[..line.IndexOf('=')], line => line[(line.IndexOf('=') + 1)..]);
        Assert.Equal(user.Email, environment["DATAWORKSPACE_USER_EMAIL"]);
        Assert.StartsWith($"_login_{user.Hash}_", environment["PGUSER"]);
        Assert.DoesNotContain(environment.Keys, name => name.StartsWith("ConnectionStrings", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("Identity", StringComparison.OrdinalIgnoreCase) || name.Contains("SIGNING", StringComparison.OrdinalIgnoreCase));
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = environment["PGHOST"], Port = int.Parse(environment["PGPORT"]), Database = environment["PGDATABASE"],
            Username = environment["PGUSER"], Password = environment["PGPASSWORD"], Pooling = false,
        };
        Assert.Equal($"_user_{user.Hash}", await Sql.ScalarAsync<string>(builder.ConnectionString, "SELECT current_user"));
        // {origin} in its command is where browsers see it (for tools that check the Origin of requests).
        Assert.Equal($"http://files-{user.Hash}.dataworkspace.localhost:8000", (await http.GetStringAsync(address + "/origin.txt", Cancel)).TrimEnd());

        var (stopped, _) = await SendAsync(HttpMethod.Post, "/api/v1/tools/files/stop", user);
        Assert.Equal(HttpStatusCode.OK, stopped);
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync(address + "/env.txt", Cancel));
        tool = await ToolAsync(user, "files");
        Assert.Equal("Stopped", tool.GetProperty("state").GetString());
        Assert.Equal("stopped by its user", tool.GetProperty("lastStopReason").GetString());
        Assert.Equal(2L, await web.ScalarAsync<long>("SELECT count(*) FROM audit_events WHERE subject_user_id = $1 AND action IN ('tool.started', 'tool.stopped')", user.UserId));
        // Its database login ended with it.
        Assert.True(await web.ScalarAsync<bool>("SELECT expires_at <= now() FROM database_logins WHERE role_name = $1", environment["PGUSER"]));
    }

    [Fact]
    public async Task A_tool_that_dies_while_starting_is_stopped_with_its_own_words()
    {
        var user = await UserAsync();
        var (_, started) = await SendAsync(HttpMethod.Post, "/api/v1/tools/broken/start", user);
        await App.Services.GetRequiredService<ToolInstances>().SpawnedAsync(started.GetProperty("id").GetGuid());

        var tool = await ToolAsync(user, "broken");
        Assert.Equal("Stopped", tool.GetProperty("state").GetString());
        Assert.Contains("exited with code 3", tool.GetProperty("error").GetString());
        Assert.Contains("no licence for this tool", tool.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Refusals_say_why_and_launch_nothing()
    {
        var withoutAccess = await UserAsync(toolsAccess: false);
        var (status, body) = await SendAsync(HttpMethod.Post, "/api/v1/tools/files/start", withoutAccess);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("data protection training", body.GetProperty("detail").GetString());

        var user = await UserAsync();
        (status, body) = await SendAsync(HttpMethod.Post, "/api/v1/tools/no-such-tool/start", user);
        Assert.Equal(HttpStatusCode.NotFound, status);
        (status, body) = await SendAsync(HttpMethod.Post, "/api/v1/tools/files/start", user, new { size = "Huge" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("Small, Medium, Large, XL, 2XL, 3XL", body.GetProperty("detail").GetString());
        // JupyterLab is a container image: the Local launcher says so instead of failing later.
        (status, body) = await SendAsync(HttpMethod.Post, "/api/v1/tools/jupyterlab/start", user);
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("runs only on the deployed platform", body.GetProperty("detail").GetString());
        Assert.Contains("runs only on the deployed platform", (await ToolAsync(user, "jupyterlab")).GetProperty("unavailable").GetString());

        Assert.Equal(0L, await web.ScalarAsync<long>("SELECT count(*) FROM tool_instances WHERE owner_id IN ($1, $2)", withoutAccess.UserId, user.UserId));
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> InternalAsync(HttpMethod method, string path, PlatformIdentity user, string? service, object? body = null)
    {
        using var client = App.CreateClient();
        using var request = new HttpRequestMessage(method, path);
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user));
        if (service is not null) request.Headers.TryAddWithoutValidation(IdentityHeaders.ServiceIdentity, service);
        if (body is not null) request.Content = JsonContent.Create(body);
        using var response = await client.SendAsync(request, Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    [Fact]
    public async Task The_proxys_internal_api_starts_a_users_tool_and_reports_each_change_as_it_happens()
    {
        var user = await UserAsync();
        var service = web.Tokens().IssueService();
        var host = $"files-{user.Hash}";

        // Only the proxy may call it: a user's own identity is not enough, nor is a user token passed off as the service's.
        Assert.Equal(HttpStatusCode.Forbidden, (await InternalAsync(HttpMethod.Get, $"/internal/v1/tools/{host}", user, service: null)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await InternalAsync(HttpMethod.Get, $"/internal/v1/tools/{host}", user, web.Tokens().Issue(user))).Status);
        // Another user's tool is refused before anything is looked up or launched.
        var other = await UserAsync();
        var (status, body) = await InternalAsync(HttpMethod.Post, $"/internal/v1/tools/{host}/start", other, service);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("another user's tool", body.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await InternalAsync(HttpMethod.Get, $"/internal/v1/tools/nothing-{user.Hash}", user, service)).Status);

        (_, body) = await InternalAsync(HttpMethod.Get, $"/internal/v1/tools/{host}", user, service);
        Assert.Equal("None", body.GetProperty("state").GetString());
        (status, body) = await InternalAsync(HttpMethod.Post, $"/internal/v1/tools/{host}/start", user, service);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Spawning", body.GetProperty("state").GetString());

        // Long polls return each change until it runs.
        var seen = new List<string>();
        for (var i = 0; i < 20 && body.GetProperty("state").GetString() != "Running"; i++)
        {
            (_, body) = await InternalAsync(HttpMethod.Get, $"/internal/v1/tools/{host}?wait=10&since={Uri.EscapeDataString(body.GetProperty("version").GetString()!)}", user, service);
            seen.Add(body.GetProperty("stage").GetString() ?? body.GetProperty("state").GetString()!);
        }

        Assert.Equal("Running", body.GetProperty("state").GetString());
        Assert.StartsWith("http://127.0.0.1:", body.GetProperty("address").GetString());
        Assert.Contains("Running", seen);

        // The proxy reports it dead: it is stopped, with the reason kept.
        var instanceId = body.GetProperty("instanceId").GetGuid();
        (_, body) = await InternalAsync(HttpMethod.Post, $"/internal/v1/tools/{host}/died", user, service, new { instanceId, reason = "connection refused" });
        Assert.Equal("Stopped", body.GetProperty("state").GetString());
        Assert.Equal("it stopped answering (connection refused)", body.GetProperty("stopReason").GetString());
    }

    [Fact]
    public async Task The_tools_page_lists_each_tool_at_the_users_own_address()
    {
        var user = await UserAsync();
        using var client = App.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/tools");
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user));
        var page = await (await client.SendAsync(request, Cancel)).Content.ReadAsStringAsync(Cancel);

        Assert.Contains($"http://files-{user.Hash}.dataworkspace.localhost:8000/", page);
        Assert.Contains($"http://jupyter-{user.Hash}.dataworkspace.localhost:8000/", page);
        Assert.Contains("RStudio", page);
        Assert.Contains("data-testid=\"start-tool\"", page);
    }

    public async ValueTask DisposeAsync()
    {
        if (App is { } app) await app.DisposeAsync();
        TestDirectories.Delete(workDirectory);
    }
}
