using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using System.Text.Json;
using DataWorkspace.Contracts;
using DataWorkspace.Security;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Portal;
using DataWorkspace.Web.Tools;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// Tool and visualisation hosts are the same site as the portal, so a page there (code written by other users and
/// teams) sends the user's cookies with its requests to the portal. Nothing it sends may change anything.
/// </summary>
public sealed class CrossOriginTests(WebFixture web) : IAsyncDisposable
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private const string Refused = "Not sent from the portal";
    private readonly string workDirectory = Path.Combine(Path.GetTempPath(), "dw-origin-test-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>Where a hostile request comes from: the Origin and Sec-Fetch-Site a browser would send with it.</summary>
    private static readonly (string From, string? Origin, string? FetchSite)[] Foreign =
    [
        ("a tool's page", "http://jupyter-1a2b3c4d.dataworkspace.localhost:8000", "same-site"),
        ("a visualisation's page", "http://market-access.dataworkspace.localhost:8000", "same-site"),
        ("a sandboxed frame", "null", "cross-site"),
        ("a page whose browser sends only Sec-Fetch-Site", null, "same-site"),
    ];

    private string PortalOrigin(WebApplicationFactory<Program> app) => RequestOrigin.Of(app.Services.GetRequiredService<PortalLinks>().Root);

    [Fact]
    public async Task Every_route_that_changes_state_refuses_other_origins_and_takes_the_portals_own()
    {
        var admin = new PlatformIdentity("origin-admin-" + Guid.NewGuid().ToString("N")[..8], $"admin-{Guid.NewGuid():N}@example.com", "Origin Admin", [PlatformIdentity.AdminRole], "127.0.0.1");
        var dataset = await new CatalogueData(web).DatasetAsync(AccessType.Open);
        var every = EveryRoute.Calls(web.Factory.Services, EveryRoute.PlausibleValues(admin, dataset));
        var calls = every.Where(c => c.ChangesState).ToList();
        Assert.Contains(calls, c => c.Path.EndsWith("/stop", StringComparison.Ordinal));
        Assert.Contains(calls, c => c.IsPage && c.Handler == "Stop");

        // Only routes that other systems call with credentials of their own opt out, each on purpose.
        Assert.Equal(
            [
                "/api/machine/v1/datasets", "/api/machine/v1/datasets/{slug}", "/api/machine/v1/datasets/{slug}/tables/{table}/rows", "/api/v1/application",
                "/internal/v1/accounts/deactivated", "/internal/v1/accounts/sign-ins", "/internal/v1/api-tokens/checks", "/internal/v1/operations/cull-idle-tools", "/internal/v1/operations/demo-data", "/internal/v1/operations/permission-sync", "/internal/v1/tools/activity", "/internal/v1/tools/{host}", "/internal/v1/tools/{host}/died", "/internal/v1/tools/{host}/start",
            ],
            every.Where(c => c.NotForBrowsers).Select(c => c.Endpoint.RoutePattern.RawText!).Distinct().Order(StringComparer.Ordinal));

        var portal = PortalOrigin(web.Factory);
        var token = web.Tokens().Issue(admin);
        using var client = web.Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var failures = new List<string>();
        foreach (var call in calls.Where(c => !c.NotForBrowsers))
        {
            foreach (var (from, origin, site) in Foreign)
            {
                using var body = new StringContent("{\"dataset\":\"x\",\"sql\":\"select 1\"}", Encoding.UTF8, "text/plain");
                var (status, text) = await SendAsync(client, call, token, origin, site, body);
                if (status != HttpStatusCode.Forbidden || !text.Contains(Refused, StringComparison.Ordinal))
                    failures.Add($"{call} from {from}: {(int)status} {Excerpt(text)}");
            }

            // The portal's own pages send forms to pages and JSON to the APIs.
            using HttpContent? own = call.IsPage ? new FormUrlEncodedContent([]) : call.JsonBody is null ? null : new StringContent("{}", Encoding.UTF8, "application/json");
            var (ownStatus, ownText) = await SendAsync(client, call, token, portal, "same-origin", own);
            if (ownText.Contains(Refused, StringComparison.Ordinal) || ownStatus == HttpStatusCode.UnsupportedMediaType || (int)ownStatus >= 500)
                failures.Add($"{call} from the portal itself: {(int)ownStatus} {Excerpt(ownText)}");
        }

        Assert.True(failures.Count == 0, $"{failures.Count} requests to {calls.Count} routes and methods went wrong:\n{string.Join('\n', failures)}");
    }

    [Fact]
    public async Task A_page_on_a_tool_host_cannot_stop_its_users_tool_and_the_portal_can()
    {
        await using var app = web.Factory.WithWebHostBuilder(host => host
            .UseSetting("Tools:LocalWorkDirectory", workDirectory)
            .UseSetting("Tools:SpawnTimeout", "00:00:30")
            .UseSetting("Tools:Templates:0:Name", "Web server")
            .UseSetting("Tools:Templates:0:HostBasename", "webserver")
            .UseSetting("Tools:Templates:0:Command:0", "python3")
            .UseSetting("Tools:Templates:0:Command:1", "-m")
            .UseSetting("Tools:Templates:0:Command:2", "http.server")
            .UseSetting("Tools:Templates:0:Command:3", "{port}")
            .UseSetting("Tools:Templates:0:Command:4", "--bind")
            .UseSetting("Tools:Templates:0:Command:5", "127.0.0.1"));
        var user = CatalogueData.NewUser("partner.example");
        await web.ScalarAsync<object>("INSERT INTO users (id, email, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, now(), now())", user.UserId, user.Email, user.Name);
        await web.ScalarAsync<object>("INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test')", user.UserId);
        var token = web.Tokens().Issue(user);
        var portal = PortalOrigin(app);
        using var client = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        const string start = "/api/v1/tools/webserver/start", stop = "/api/v1/tools/webserver/stop";

        using (var json = new StringContent("{}", Encoding.UTF8, "application/json"))
        {
            var (started, body) = await SendAsync(client, start, token, portal, "same-origin", json);
            Assert.Equal(HttpStatusCode.Accepted, started);
            await app.Services.GetRequiredService<ToolInstances>().SpawnedAsync(JsonDocument.Parse(body).RootElement.GetProperty("id").GetGuid());
        }

        var address = await web.ScalarAsync<string>("SELECT address FROM tool_instances WHERE owner_id = $1 AND state = 'Running'", user.UserId);
        Assert.NotNull(address);
        using var refusals = new RefusalCount(app.Services.GetRequiredService<IMeterFactory>());

        // The tool's own page (the likeliest attacker: it runs whatever its notebooks load) and the others.
        var ownTool = $"http://webserver-{user.Hash}.dataworkspace.localhost:8000";
        foreach (var (from, origin, site) in Foreign.Prepend(("the tool's own page", ownTool, "same-site")))
        {
            using var plain = new StringContent("", Encoding.UTF8, "text/plain");
            var (status, text) = await SendAsync(client, stop, token, origin, site, plain);
            Assert.True(status == HttpStatusCode.Forbidden, $"from {from}: {(int)status} {text}");
            Assert.Contains($"Only the portal's own pages can make changes: open {portal}/", JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString());
        }

        // Still running, still answering, and each refusal was counted.
        Assert.Equal("Running", await web.ScalarAsync<string>("SELECT state FROM tool_instances WHERE address = $1", address));
        using (var http = new HttpClient())
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(address, Cancel)).StatusCode);
        Assert.Equal(Foreign.Length + 1, refusals.ForeignOrigin);

        // A body that is not JSON is refused even from the portal's own origin: no cross-site form can send JSON.
        using (var plain = new StringContent("stop", Encoding.UTF8, "text/plain"))
        {
            var (status, text) = await SendAsync(client, stop, token, portal, "same-origin", plain);
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
            Assert.Contains("application/json", text);
        }

        var (stopped, _) = await SendAsync(client, stop, token, portal, "same-origin", null);
        Assert.Equal(HttpStatusCode.OK, stopped);
        Assert.Equal("Stopped", await web.ScalarAsync<string>("SELECT state FROM tool_instances WHERE address = $1", address));
    }

    public static Task<(HttpStatusCode Status, string Text)> SendAsync(HttpClient client, RouteCall call, string token, string? origin, string? fetchSite,
        HttpContent? content, params (string Name, string Value)[] query) =>
        SendAsync(client, call.Method, call.Url(query), token, origin, fetchSite, content);

    private static Task<(HttpStatusCode Status, string Text)> SendAsync(HttpClient client, string path, string token, string? origin, string? fetchSite, HttpContent? content) =>
        SendAsync(client, "POST", path, token, origin, fetchSite, content);

    private static async Task<(HttpStatusCode Status, string Text)> SendAsync(HttpClient client, string method, string url, string token, string? origin, string? fetchSite,
        HttpContent? content)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url) { Content = content };
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, token);
        if (origin is not null) request.Headers.TryAddWithoutValidation("Origin", origin);
        if (fetchSite is not null) request.Headers.TryAddWithoutValidation(RequestOrigin.FetchSiteHeader, fetchSite);
        using var response = await client.SendAsync(request, Cancel);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(Cancel));
    }

    public static string Excerpt(string text)
    {
        var main = text.IndexOf("<main", StringComparison.Ordinal) is var at and >= 0 ? text[at..] : text;
        return main[..Math.Min(main.Length, 300)].ReplaceLineEndings(" ");
    }

    public ValueTask DisposeAsync()
    {
        if (Directory.Exists(workDirectory)) Directory.Delete(workDirectory, recursive: true);
        return ValueTask.CompletedTask;
    }

    /// <summary>The app's <c>dataworkspace.security.refusals</c> for foreign origins, as its metrics exporter would see them.</summary>
    private sealed class RefusalCount : IDisposable
    {
        private readonly MeterListener listener = new();
        private long foreignOrigin;

        public RefusalCount(IMeterFactory meters)
        {
            listener.InstrumentPublished = (instrument, me) =>
            {
                if (instrument.Meter.Name == SecurityRefusals.MeterName && instrument.Meter.Scope == meters) me.EnableMeasurementEvents(instrument);
            };
            listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                    if (tag is { Key: "reason", Value: "foreign_origin" }) Interlocked.Add(ref foreignOrigin, value);
            });
            listener.Start();
        }

        public long ForeignOrigin => Interlocked.Read(ref foreignOrigin);

        public void Dispose() => listener.Dispose();
    }
}
