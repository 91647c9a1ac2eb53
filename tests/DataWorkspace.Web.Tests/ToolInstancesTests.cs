using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DataWorkspace.Contracts;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Storage;
using DataWorkspace.Web.Tools;
using Microsoft.EntityFrameworkCore;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// The classes that cull idle tools: a cull stops every idle tool in the shared database, so one class's cull would stop
/// the tools another has just made look idle, and each would miss what it expects. They run one after the other.
/// </summary>
[CollectionDefinition]
public sealed class ToolCulling;

/// <summary>
/// Launching tools with the Local launcher, against a real PostgreSQL: each tool is a real process (Python's HTTP
/// server) started with the user's own short-lived database login and nothing else of the platform's configuration.
/// </summary>
[Collection(typeof(ToolCulling))]
public sealed class ToolInstancesTests(WebFixture web, MotoServer aws) : IAsyncDisposable, IClassFixture<MotoServer>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private readonly string workDirectory = Path.Combine(Path.GetTempPath(), "dw-tools-test-" + Guid.NewGuid().ToString("N")[..8]);

    private WebApplicationFactory<Program> App => field ??= WithAwsCredentials().WithWebHostBuilder(host => host
        .UseSetting("Tools:LocalWorkDirectory", workDirectory)
        // Each tool's metrics sidecar runs from the sidecars build, as the AppHost sets it.
        .UseSetting("Tools:LocalSidecars", SidecarsBuild.Dll())
        // Tools get S3 credentials from STS (moto here) for their own prefixes of this bucket.
        .UseSetting("Storage:Bucket", "tool-files")
        .UseSetting("Aws:ServiceUrl", aws.Url.ToString())
        .UseSetting("Aws:Region", MotoServer.Region)
        .UseSetting("Tools:SpawnTimeout", "00:00:30")
        .UseSetting("Prometheus:Username", "prometheus")
        .UseSetting("Prometheus:Password", "sd-secret")
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
        .UseSetting("Tools:Templates:1:Command:2", "echo 'no licence for this tool' >&2; exit 3")
        .UseSetting("Tools:Templates:2:Name", "Viz")
        .UseSetting("Tools:Templates:2:HostBasename", "viz")
        .UseSetting("Tools:Templates:2:Kind", "Visualisation")
        .UseSetting("Tools:Templates:2:CatalogueSlug", "viz-entry")
        .UseSetting("Tools:Templates:2:TeamSlug", "viz_devs")
        .UseSetting("Tools:Templates:2:Command:0", "sh")
        .UseSetting("Tools:Templates:2:Command:1", "-c")
        .UseSetting("Tools:Templates:2:Command:2", "env > env.txt && exec python3 -m http.server {port} --bind 127.0.0.1"));

    /// <summary>The web app's own AWS credentials, as a deployment's task role would give them (moto takes any).</summary>
    private WebApplicationFactory<Program> WithAwsCredentials()
    {
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", MotoServer.AccessKeyId);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", MotoServer.SecretAccessKey);
        return web.Factory;
    }

    private async Task<PlatformIdentity> UserAsync(bool toolsAccess = true)
    {
        var user = CatalogueData.NewUser("partner.example");
        await web.ScalarAsync<object>("INSERT INTO users (id, email, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, now(), now())", user.UserId, user.Email, user.Name);
        if (toolsAccess)
            await web.ScalarAsync<object>("INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test')", user.UserId);
        return user;
    }

    private Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, PlatformIdentity user, object? body = null) =>
        web.SendAsync(App, method, path, user, body);

    private async Task<JsonElement> ToolAsync(PlatformIdentity user, string basename)
    {
        var (_, tools) = await SendAsync(HttpMethod.Get, "/api/v1/tools", user);
        return tools.EnumerateArray().Single(t => t.GetProperty("hostBasename").GetString() == basename);
    }

    [Fact]
    public async Task A_tool_starts_with_the_users_own_database_login_and_nothing_else_then_stops()
    {
        var user = await UserAsync();
        var team = "tool_team_" + user.Hash;
        await web.ScalarAsync<object>("INSERT INTO teams (id, slug, name, created_at) VALUES (gen_random_uuid(), $1, 'Tool team', now())", team);
        await web.ScalarAsync<object>("INSERT INTO team_members (team_id, user_id, added_at) SELECT id, $1, now() FROM teams WHERE slug = $2", user.UserId, team);
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

        // S3: the bucket, the user's home and team prefixes, and credentials of its own fetched from the web app (not
        // the platform's, and no static keys): ToolFilesTests follows what the tool does with them.
        Assert.Equal("tool-files", environment["S3_BUCKET"]);
        Assert.Equal($"home/{user.Hash}/", environment["S3_PREFIX"]);
        Assert.Equal($"teams/{team}/", environment["S3_TEAM_PREFIXES"]);
        Assert.StartsWith("http://127.0.0.1:", environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"]);
        Assert.NotEmpty(environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]);
        Assert.NotEqual(aws.Url.ToString(), environment["AWS_ENDPOINT_URL_S3"]);
        Assert.DoesNotContain("AWS_ACCESS_KEY_ID", environment.Keys);
        Assert.DoesNotContain("AWS_SECRET_ACCESS_KEY", environment.Keys);

        // With those credentials the tool reads the table its user was granted, and is refused one they were not.
        var data = new CatalogueData(web);
        var granted = await data.DatasetAsync(DataWorkspace.Web.Catalogue.AccessType.RequiresAuthorization);
        var forbidden = await data.DatasetAsync(DataWorkspace.Web.Catalogue.AccessType.RequiresAuthorization);
        await data.GrantAsync(granted, user, null);
        await App.Services.GetRequiredService<DataWorkspace.Web.DatabaseAccess.RoleSync>().SyncAsync(Cancel);
        Assert.Equal(3L, await Sql.ScalarAsync<long>(builder.ConnectionString, $"SELECT count(*) FROM {granted.Tables[0].Schema}.{granted.Tables[0].Table}"));
        var refused = await Assert.ThrowsAsync<PostgresException>(() =>
            Sql.ScalarAsync<long>(builder.ConnectionString, $"SELECT count(*) FROM {forbidden.Tables[0].Schema}.{forbidden.Tables[0].Table}"));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);

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
    public async Task Two_replicas_stopping_the_same_tool_at_once_stop_and_audit_it_once()
    {
        var user = await UserAsync();
        var (_, started) = await SendAsync(HttpMethod.Post, "/api/v1/tools/files/start", user);
        var id = started.GetProperty("id").GetGuid();
        var tools = App.Services.GetRequiredService<ToolInstances>();
        await tools.SpawnedAsync(id);

        // Each replica's culler (or one's culler and the user's stop on another) finds the same idle tool.
        var stops = await Task.WhenAll(
            tools.StopAsync(id, null, DataWorkspace.Web.Audit.Actor.System, ToolStop.Idle(TimeSpan.FromMinutes(1), DateTimeOffset.UtcNow), Cancel),
            tools.StopAsync(id, null, DataWorkspace.Web.Audit.Actor.System, ToolStop.Idle(TimeSpan.FromMinutes(1), DateTimeOffset.UtcNow), Cancel));

        Assert.Equal([false, true], stops.Order());
        Assert.Equal("Stopped", (await ToolAsync(user, "files")).GetProperty("state").GetString());
        Assert.Equal(1L, await web.ScalarAsync<long>("SELECT count(*) FROM audit_events WHERE subject_user_id = $1 AND action = 'tool.stopped'", user.UserId));
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
    public async Task Idle_and_overage_tools_are_stopped_with_why_and_an_admin_sees_and_stops_anyones()
    {
        var user = await UserAsync();
        var tools = App.Services.GetRequiredService<ToolInstances>();
        var culler = App.Services.GetRequiredService<ToolCuller>();
        async Task<Guid> StartedAsync()
        {
            var (_, started) = await SendAsync(HttpMethod.Post, "/api/v1/tools/files/start", user);
            var id = started.GetProperty("id").GetGuid();
            await tools.SpawnedAsync(id);
            Assert.Equal("Running", await web.ScalarAsync<string>("SELECT state FROM tool_instances WHERE id = $1", id));
            return id;
        }

        async Task<(string State, string? Reason)> InstanceAsync(Guid id) =>
            ((await web.ScalarAsync<string>("SELECT state FROM tool_instances WHERE id = $1", id))!,
             await web.ScalarAsync<string>("SELECT coalesce(stop_reason, '') FROM tool_instances WHERE id = $1", id));

        // Traffic the proxy reports keeps a tool that looked idle running; only the proxy may report it.
        var id = await StartedAsync();
        await web.ScalarAsync<object>("UPDATE tool_instances SET last_activity_at = now() - interval '3 hours' WHERE id = $1", id);
        var report = new { instances = new[] { new { instanceId = id, lastActivityAt = DateTimeOffset.UtcNow } } };
        Assert.Equal(HttpStatusCode.Forbidden, (await InternalAsync(HttpMethod.Post, "/internal/v1/tools/activity", user, service: null, report)).Status);
        // As the proxy sends it: the service identity and no user's.
        using var reporter = App.CreateClient();
        using var reportRequest = new HttpRequestMessage(HttpMethod.Post, "/internal/v1/tools/activity") { Content = JsonContent.Create(report) };
        reportRequest.Headers.TryAddWithoutValidation(IdentityHeaders.ServiceIdentity, web.Tokens().IssueService());
        using var reportResponse = await reporter.SendAsync(reportRequest, Cancel);
        var (status, body) = (reportResponse.StatusCode, JsonDocument.Parse(await reportResponse.Content.ReadAsStringAsync(Cancel)).RootElement.Clone());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, body.GetProperty("updated").GetInt32());
        await culler.CullAsync(Cancel);
        Assert.Equal("Running", (await InstanceAsync(id)).State);

        // No traffic for longer than the idle timeout (two hours by default): stopped, and the reason says so.
        await web.ScalarAsync<object>("UPDATE tool_instances SET last_activity_at = now() - interval '2 hours 1 minute' WHERE id = $1", id);
        await culler.CullAsync(Cancel);
        var (state, reason) = await InstanceAsync(id);
        Assert.Equal("Stopped", state);
        Assert.StartsWith("it was idle for 2 hours", reason);
        Assert.Equal("system", await web.ScalarAsync<string>("SELECT actor_id FROM audit_events WHERE action = 'tool.stopped' AND subject_user_id = $1 ORDER BY at DESC LIMIT 1", user.UserId));

        // Busy or not, no tool outlives the maximum lifetime (seven days by default).
        id = await StartedAsync();
        await web.ScalarAsync<object>("UPDATE tool_instances SET created_at = now() - interval '7 days 1 minute' WHERE id = $1", id);
        await culler.CullAsync(Cancel);
        Assert.Equal(("Stopped", "it reached the maximum lifetime of 7 days"), await InstanceAsync(id));

        // A tool still starting long after the spawn timeout (30 seconds here) was left by a replica that stopped mid-spawn.
        id = await StartedAsync();
        await web.ScalarAsync<object>("UPDATE tool_instances SET state = 'Spawning', created_at = now() - interval '2 minutes' WHERE id = $1", id);
        await culler.CullAsync(Cancel);
        (state, reason) = await InstanceAsync(id);
        Assert.Equal("Stopped", state);
        Assert.StartsWith("it failed to start: it was still starting 90 seconds after it was asked for", reason);

        // An admin sees every running tool, whose it is, and stops it; others cannot see the page.
        id = await StartedAsync();
        var admin = await UserAsync(toolsAccess: false) with { Roles = [PlatformIdentity.AdminRole] };
        using var client = App.CreateClient(new() { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(admin));
        var page = await client.GetStringAsync("/admin/tools", Cancel);
        Assert.Contains($"files-{user.Hash}", page);
        Assert.Contains(user.Email, page);
        var form = new Dictionary<string, string>
        {
            ["id"] = id.ToString(),
            ["__RequestVerificationToken"] = System.Text.RegularExpressions.Regex.Match(page, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"").Groups[1].Value,
        };
        using var stop = await client.PostAsync("/admin/tools?handler=Stop", new FormUrlEncodedContent(form), Cancel);
        Assert.Equal(HttpStatusCode.Redirect, stop.StatusCode);
        Assert.Equal(("Stopped", $"an administrator ({admin.Email}) stopped it"), await InstanceAsync(id));

        using var analyst = App.CreateClient(new() { AllowAutoRedirect = false });
        analyst.DefaultRequestHeaders.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user));
        using var refused = await analyst.GetAsync("/admin/tools", Cancel);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    [Fact]
    public async Task Prometheus_discovers_each_running_tools_metrics_sidecar_with_its_tool_and_user_only_with_its_credentials()
    {
        var user = await UserAsync();
        var (_, started) = await SendAsync(HttpMethod.Post, "/api/v1/tools/files/start", user);
        var id = started.GetProperty("id").GetGuid();
        await App.Services.GetRequiredService<ToolInstances>().SpawnedAsync(id);
        var address = new Uri((await web.ScalarAsync<string>("SELECT address FROM tool_instances WHERE id = $1", id))!);

        async Task<HttpResponseMessage> DiscoverAsync(WebApplicationFactory<Program> app, string? credentials)
        {
            using var client = app.CreateClient();
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/application");
            if (credentials is not null) request.Headers.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(credentials)));
            return await client.SendAsync(request, Cancel);
        }

        using (var anonymous = await DiscoverAsync(App, null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.StartsWith("Basic", anonymous.Headers.WwwAuthenticate.Single().Scheme);
        }

        using (var wrong = await DiscoverAsync(App, "prometheus:guess"))
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        using (var unconfigured = await DiscoverAsync(web.Factory, "prometheus:sd-secret"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unconfigured.StatusCode);
            Assert.Contains("Prometheus:Username", await unconfigured.Content.ReadAsStringAsync(Cancel));
        }

        using var discovered = await DiscoverAsync(App, "prometheus:sd-secret");
        Assert.Equal(HttpStatusCode.OK, discovered.StatusCode);
        var group = JsonDocument.Parse(await discovered.Content.ReadAsStringAsync(Cancel)).RootElement.EnumerateArray()
            .Single(g => g.GetProperty("labels").GetProperty("instance_id").GetString() == id.ToString());
        Assert.Equal("Files", group.GetProperty("labels").GetProperty("tool").GetString());
        Assert.Equal(user.Email, group.GetProperty("labels").GetProperty("user").GetString());
        Assert.Equal(user.Hash, group.GetProperty("labels").GetProperty("user_hash").GetString());
        Assert.Equal($"files-{user.Hash}", group.GetProperty("labels").GetProperty("tool_host").GetString());

        // The target is the tool's metrics sidecar on loopback, not the tool: it serves the tool's CPU and memory.
        var target = group.GetProperty("targets").EnumerateArray().Single().GetString()!;
        Assert.StartsWith("127.0.0.1:", target);
        Assert.NotEqual(address.Authority, target);
        using var scraper = new HttpClient();
        var metrics = await MetricsAsync(scraper, target, "container_memory_working_set_bytes{");
        Assert.Matches("""container_cpu_usage_seconds_total\{[^}]*container="tool"[^}]*\} """, metrics);
        Assert.Matches("""container_memory_working_set_bytes\{[^}]*container="tool"[^}]*\} [1-9]""", metrics);

        // Once stopped, it is no longer a target, and its sidecar has stopped with it.
        await SendAsync(HttpMethod.Post, "/api/v1/tools/files/stop", user);
        using var after = await DiscoverAsync(App, "prometheus:sd-secret");
        Assert.DoesNotContain(id.ToString(), await after.Content.ReadAsStringAsync(Cancel));
        await Assert.ThrowsAsync<HttpRequestException>(() => scraper.GetStringAsync($"http://{target}/metrics", Cancel));
        Assert.False(File.Exists(Path.Combine(workDirectory, ".sidecars", id.ToString("N"))));
    }

    /// <summary>The sidecar's /metrics once it answers with <paramref name="series"/> (it starts beside the tool, not before it).</summary>
    private static async Task<string> MetricsAsync(HttpClient client, string target, string series)
    {
        while (true)
        {
            try
            {
                var text = await client.GetStringAsync($"http://{target}/metrics", Cancel);
                if (text.Contains(series, StringComparison.Ordinal)) return text;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100, Cancel);
        }
    }

    [Fact]
    public async Task A_sidecar_left_running_by_a_previous_run_is_ended_when_the_platform_starts_again()
    {
        // A metrics sidecar as the previous run would have left it after a crash: running, its id in the pid file.
        var orphanId = Guid.NewGuid();
        using var orphan = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            ArgumentList = { SidecarsBuild.Dll(), "metrics", "--pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), "--address", "127.0.0.1", "--port", Ports.Free().ToString(System.Globalization.CultureInfo.InvariantCulture) },
            RedirectStandardOutput = true,
        })!;
        Directory.CreateDirectory(Path.Combine(workDirectory, ".sidecars"));
        await File.WriteAllTextAsync(Path.Combine(workDirectory, ".sidecars", orphanId.ToString("N")), orphan.Id + "\n", Cancel);

        try
        {
            // The platform starting (the reconciler runs at start) ends it.
            _ = App.Services;
            await orphan.WaitForExitAsync(Cancel);
            Assert.False(File.Exists(Path.Combine(workDirectory, ".sidecars", orphanId.ToString("N"))));
        }
        finally
        {
            if (!orphan.HasExited) orphan.Kill();
        }
    }

    [Fact]
    public async Task A_visualisation_opens_for_those_its_catalogue_entry_allows_and_reads_only_what_its_developers_gave_it()
    {
        var data = new CatalogueData(web);
        // The visualisation's catalogue entry (its slug is in the template) needs permission to open.
        await using (var context = data.Context())
        {
            if (!await context.Datasets.AnyAsync(d => d.Slug == "viz-entry", Cancel))
            {
                context.Datasets.Add(new Dataset
                {
                    Type = DatasetType.Visualisation, Name = "Viz entry", Slug = "viz-entry", ShortDescription = "A dashboard", AccessType = AccessType.RequiresAuthorization,
                    Published = true, PublishedAt = DateTimeOffset.UtcNow, Publisher = "Test",
                });
                await context.SaveChangesAsync(Cancel);
            }
        }

        var entry = await web.ScalarAsync<Guid>("SELECT id FROM datasets WHERE slug = 'viz-entry'");
        var viewer = await UserAsync(toolsAccess: false);
        var (status, body) = await SendAsync(HttpMethod.Post, "/api/v1/tools/viz/start", viewer);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("/datasets/viz-entry", body.GetProperty("detail").GetString());

        // With permission on the entry (no tools access needed) the viewer starts the one shared instance.
        await data.GrantAsync(new Dataset { Id = entry, Name = "Viz entry", Slug = "viz-entry" }, viewer, null);
        (status, body) = await SendAsync(HttpMethod.Post, "/api/v1/tools/viz/start", viewer);
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("viz", body.GetProperty("host").GetString());
        var id = body.GetProperty("id").GetGuid();
        await App.Services.GetRequiredService<ToolInstances>().SpawnedAsync(id);
        var address = await web.ScalarAsync<string>("SELECT address FROM tool_instances WHERE id = $1", id);
        using var http = new HttpClient();
        var environment = (await http.GetStringAsync(address + "/env.txt", Cancel)).Split('\n')
            .Where(line => line.Contains('=')).ToDictionary(line => line[..line.IndexOf('=')], line => line[(line.IndexOf('=') + 1)..]);
        // It runs as itself: its own login, not the viewer's, and no viewer's identity.
        Assert.Equal("viz", environment["DATAWORKSPACE_APP"]);
        Assert.StartsWith($"_login_{UserHash.Of(ToolHosts.AppUserId("viz"))}_", environment["PGUSER"]);
        Assert.DoesNotContain(environment.Keys, name => name.StartsWith("DATAWORKSPACE_USER", StringComparison.Ordinal));
        var app = new NpgsqlConnectionStringBuilder
        {
            Host = environment["PGHOST"], Port = int.Parse(environment["PGPORT"]), Database = environment["PGDATABASE"],
            Username = environment["PGUSER"], Password = environment["PGPASSWORD"], Pooling = false,
        }.ConnectionString;

        // A developer (in its team) gives it a dataset they can read; not one they cannot; a non-developer gives nothing.
        var developer = await UserAsync(toolsAccess: false);
        await web.ScalarAsync<object>("""
            INSERT INTO teams (id, slug, name, created_at) VALUES (gen_random_uuid(), 'viz_devs', 'Viz developers', now()) ON CONFLICT DO NOTHING;
            """);
        await web.ScalarAsync<object>("INSERT INTO team_members (team_id, user_id, added_at) SELECT id, $1, now() FROM teams WHERE slug = 'viz_devs'", developer.UserId);
        var readable = await data.DatasetAsync(AccessType.RequiresAuthorization);
        var unreadable = await data.DatasetAsync(AccessType.RequiresAuthorization);
        await data.GrantAsync(readable, developer, null);
        string TableOf(Dataset dataset) => $"{dataset.Tables[0].Schema}.{dataset.Tables[0].Table}";
        await Assert.ThrowsAsync<PostgresException>(() => Sql.ScalarAsync<long>(app, $"SELECT count(*) FROM {TableOf(readable)}"));

        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(HttpMethod.Post, "/api/v1/visualisations/viz/datasets", viewer, new { dataset = readable.Slug })).Status);
        (status, body) = await SendAsync(HttpMethod.Post, "/api/v1/visualisations/viz/datasets", developer, new { dataset = unreadable.Slug });
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("cannot read", body.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Post, "/api/v1/visualisations/viz/datasets", developer, new { dataset = readable.Slug })).Status);

        Assert.Equal(3L, await Sql.ScalarAsync<long>(app, $"SELECT count(*) FROM {TableOf(readable)}"));
        var refused = await Assert.ThrowsAsync<PostgresException>(() => Sql.ScalarAsync<long>(app, $"SELECT count(*) FROM {TableOf(unreadable)}"));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
        var (_, list) = await SendAsync(HttpMethod.Get, "/api/v1/visualisations", developer);
        var viz = list.EnumerateArray().Single(v => v.GetProperty("hostBasename").GetString() == "viz");
        Assert.True(viz.GetProperty("isDeveloper").GetBoolean());
        Assert.Equal([readable.Slug], viz.GetProperty("datasets").EnumerateArray().Select(d => d.GetString()));

        // Taken away, it can no longer read it.
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Delete, $"/api/v1/visualisations/viz/datasets/{readable.Slug}", developer)).Status);
        await Assert.ThrowsAsync<PostgresException>(() => Sql.ScalarAsync<long>(app, $"SELECT count(*) FROM {TableOf(readable)}"));
        await App.Services.GetRequiredService<ToolInstances>().StopAsync(id, null, DataWorkspace.Web.Audit.Actor.System, new ToolStop(ToolStopCause.Administrator, "test over"), Cancel);
    }

    [Fact]
    public async Task An_admin_adds_and_changes_templates_with_the_rules_of_configuration_and_cannot_change_configured_ones()
    {
        var admin = await UserAsync(toolsAccess: false) with { Roles = [PlatformIdentity.AdminRole] };
        using var client = App.CreateClient(new() { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(admin));
        async Task<HttpResponseMessage> SaveAsync(Dictionary<string, string> form)
        {
            var page = await client.GetStringAsync("/admin/tool-templates", Cancel);
            form["__RequestVerificationToken"] = System.Text.RegularExpressions.Regex.Match(page, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"").Groups[1].Value;
            return await client.PostAsync("/admin/tool-templates?handler=Save", new FormUrlEncodedContent(form), Cancel);
        }

        var list = await client.GetStringAsync("/admin/tool-templates", Cancel);
        Assert.Contains("data-basename=\"files\"", list);
        Assert.Contains("From configuration", list);

        // The same checks as configuration, each named; and a basename already taken.
        using (var bad = await SaveAsync(new() { ["Name"] = "Dash", ["HostBasename"] = "Dash_Board", ["Kind"] = "Visualisation", ["Port"] = "70000", ["Command"] = "python3\n-m\nhttp.server" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var page = System.Net.WebUtility.HtmlDecode(await bad.Content.ReadAsStringAsync(Cancel));
            Assert.Contains("must be lowercase letters and digits", page);
            Assert.Contains("Port 70000 is outside 1-65535", page);
            Assert.Contains("needs CatalogueSlug", page);
        }

        using (var taken = await SaveAsync(new() { ["Name"] = "Files again", ["HostBasename"] = "files", ["Kind"] = "Tool", ["Port"] = "8888", ["Command"] = "true" }))
            Assert.Contains("already Files's (declared in configuration)", System.Net.WebUtility.HtmlDecode(await taken.Content.ReadAsStringAsync(Cancel)));

        var basename = "dash-" + Guid.NewGuid().ToString("N")[..6];
        using (var saved = await SaveAsync(new()
        {
            ["Name"] = "Trade dashboard", ["HostBasename"] = basename, ["Kind"] = "Visualisation", ["Port"] = "8050", ["Ports"] = "3000, 3001",
            ["Command"] = "python3\n-m\nhttp.server\n{port}", ["Environment"] = "MODE=prod", ["CatalogueSlug"] = "viz-entry", ["Wrap"] = "FullHeightIframe",
            ["DefaultSize"] = "Small", ["IdleMinutes"] = "30", ["Visible"] = "true",
        }))
            Assert.Equal(HttpStatusCode.Redirect, saved.StatusCode);

        var template = (await App.Services.CreateScope().ServiceProvider.GetRequiredService<ToolTemplates>().ByBasenameAsync(basename, Cancel))!;
        Assert.Equal((ToolKind.Visualisation, WrapMode.FullHeightIframe, TimeSpan.FromMinutes(30), "prod"), (template.Kind, template.Wrap, template.IdleTimeout!.Value, template.Environment["MODE"]));
        Assert.Equal([3000, 3001], template.Ports);
        Assert.Equal(["python3", "-m", "http.server", "{port}"], template.Command);

        // Hidden: unchecking the box (the form then sends only the hidden "false").
        var edit = await client.GetStringAsync($"/admin/tool-templates?edit={basename}", Cancel);
        Assert.Contains("Edit Trade dashboard", edit);
        using (var hidden = await SaveAsync(new()
        {
            ["Id"] = template.Id.ToString(), ["Name"] = "Trade dashboard", ["HostBasename"] = basename, ["Kind"] = "Visualisation", ["Port"] = "8050",
            ["Command"] = "python3", ["CatalogueSlug"] = "viz-entry", ["DefaultSize"] = "Small", ["Visible"] = "false",
        }))
            Assert.Equal(HttpStatusCode.Redirect, hidden.StatusCode);
        Assert.False((await App.Services.CreateScope().ServiceProvider.GetRequiredService<ToolTemplates>().ByBasenameAsync(basename, Cancel))!.Visible);
        Assert.Equal(1L, await web.ScalarAsync<long>("SELECT count(*) FROM audit_events WHERE action = 'tool_template.changed' AND summary LIKE '%' || $1 || '%changed'", basename));
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
        Assert.Equal("StoppedAnswering", body.GetProperty("stopCause").GetString());
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

public sealed class ToolStoragePolicyTests
{
    [Fact]
    public void A_tools_session_policy_allows_only_its_users_home_and_team_prefixes()
    {
        var policy = System.Text.Json.JsonDocument.Parse(ToolCredentials.SessionPolicy("files", ["home/1a2b3c4d/", "teams/analysts/"])).RootElement;
        var statements = policy.GetProperty("Statement").EnumerateArray().ToList();

        var list = statements.Single(s => s.GetProperty("Sid").GetString() == "ListOwnPrefixes");
        Assert.Equal(["arn:aws:s3:::files"], list.GetProperty("Resource").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(["home/1a2b3c4d/", "home/1a2b3c4d/*", "teams/analysts/", "teams/analysts/*"],
            list.GetProperty("Condition").GetProperty("StringLike").GetProperty("s3:prefix").EnumerateArray().Select(p => p.GetString()));
        var objects = statements.Single(s => s.GetProperty("Sid").GetString() == "ObjectsUnderOwnPrefixes");
        Assert.Equal(["arn:aws:s3:::files/home/1a2b3c4d/*", "arn:aws:s3:::files/teams/analysts/*"], objects.GetProperty("Resource").EnumerateArray().Select(r => r.GetString()));
        Assert.DoesNotContain(statements, s => s.GetProperty("Effect").GetString() != "Allow");
    }
}
