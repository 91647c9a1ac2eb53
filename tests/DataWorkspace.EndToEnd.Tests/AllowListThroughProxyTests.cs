using System.Net;
using System.Text.Json;
using DataWorkspace.Contracts;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// The IP allow list and the session's IP group, through the real proxy. Tests connect from other loopback addresses
/// to stand for other networks (see RunningPlatform's test settings): 127.0.0.1 is the group "this-machine", 127.0.0.3
/// the allowed group "second-desk", and 127.0.0.2 is on no allow list.
/// </summary>
public sealed class AllowListThroughProxyTests(PlatformFixture fixture)
{
    private static readonly IPAddress Outside = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress SecondDesk = IPAddress.Parse("127.0.0.3");
    private RunningPlatform Platform => fixture.Platform;
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private async Task<(PortalClient Client, string Hash)> SignedInWithToolsAsync(string email, IPAddress? from = null)
    {
        var client = new PortalClient(Platform.PortalUrl, followRedirects: true, from);
        await client.SignInAsync(email, cancellationToken: Cancel);
        var id = (await Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", email))!;
        await Platform.CatalogueScalarAsync<object>(
            "INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test') ON CONFLICT DO NOTHING", id);
        return (client, UserHash.Of(id));
    }

    private PortalClient From(IPAddress address, PortalClient signedIn)
    {
        var client = new PortalClient(Platform.PortalUrl, followRedirects: false, address);
        client.Cookies.Add(signedIn.Cookies.GetAllCookies());
        return client;
    }

    private Uri ToolUrl(string hash, string path = "/") => new($"http://sample-{hash}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}{path}");

    [Fact]
    public async Task Tools_and_the_data_explorer_refuse_addresses_off_the_allow_list_whatever_x_forwarded_for_says()
    {
        var (insider, hash) = await SignedInWithToolsAsync("priya.shah@trade.example");
        using var _ = insider;
        var launchedBefore = await Platform.CatalogueScalarAsync<long>("SELECT count(*) FROM tool_instances WHERE host = $1", $"sample-{hash}");

        // The same session from an address on no allow list, claiming to forward for an allowed one.
        async Task<HttpResponseMessage> OutsideAsync(Uri url)
        {
            using var outsider = From(Outside, insider);
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", "127.0.0.1");
            return await outsider.Http.SendAsync(request, Cancel);
        }

        using (var tool = await OutsideAsync(ToolUrl(hash)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, tool.StatusCode);
            var page = await tool.Content.ReadAsStringAsync(Cancel);
            Assert.Contains("Not from this network", page);
            Assert.Contains("127.0.0.2", page);
        }

        using (var explorer = await OutsideAsync(new Uri(Platform.PortalUrl, "/data-explorer")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, explorer.StatusCode);
            Assert.Contains("Not from this network", await explorer.Content.ReadAsStringAsync(Cancel));
        }

        using (var api = await OutsideAsync(new Uri(Platform.PortalUrl, "/api/v1/explorer/history")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, api.StatusCode);
            Assert.Contains("your address (127.0.0.2)", JsonDocument.Parse(await api.Content.ReadAsStringAsync(Cancel)).RootElement.GetProperty("detail").GetString());
        }

        // Nothing was launched by those visits, and from an allowed address the same user reaches both.
        Assert.Equal(launchedBefore, await Platform.CatalogueScalarAsync<long>("SELECT count(*) FROM tool_instances WHERE host = $1", $"sample-{hash}"));
        using (var explorer = await insider.Http.GetAsync("/data-explorer", Cancel))
            Assert.Equal(HttpStatusCode.OK, explorer.StatusCode);
        using (var tool = await insider.Http.GetAsync(ToolUrl(hash), Cancel))
            Assert.True(tool.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, $"{tool.StatusCode}");
    }

    [Fact]
    public async Task A_session_used_from_another_ip_group_must_sign_in_again_and_then_works_there()
    {
        var (insider, hash) = await SignedInWithToolsAsync("priya.shah@trade.example");
        using var _ = insider;

        // This session belongs to "this-machine" and was just used at the tool from there. From "second-desk" it ends,
        // at the tool (which answers from the proxy's recent sessions) as at the portal.
        using (var tool = await insider.Http.GetAsync(ToolUrl(hash), Cancel))
            Assert.True(tool.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, $"{tool.StatusCode}");
        using (var elsewhere = From(SecondDesk, insider))
        {
            using var tool = await elsewhere.Http.GetAsync(ToolUrl(hash), Cancel);
            Assert.Equal(HttpStatusCode.Redirect, tool.StatusCode);
            Assert.Contains("/auth/sign-in?returnUrl=", tool.Headers.Location!.ToString());
            Assert.Contains(tool.Headers.GetValues("Set-Cookie"), cookie => cookie.StartsWith("dw_session=;", StringComparison.Ordinal));
        }

        // The catalogue is open to every address, but not to this session from there either.
        using (var elsewhere = From(SecondDesk, insider))
        {
            using var catalogue = await elsewhere.Http.GetAsync("/datasets", Cancel);
            Assert.Equal(HttpStatusCode.Redirect, catalogue.StatusCode);
            Assert.Contains("authorize", catalogue.Headers.Location!.AbsolutePath); // to the identity provider
        }

        // Signed in again from there, the user works there; the first session still works where it began.
        var (secondDesk, _) = await SignedInWithToolsAsync("priya.shah@trade.example", SecondDesk);
        using (secondDesk)
        using (var explorer = await secondDesk.Http.GetAsync("/data-explorer", Cancel))
            Assert.Equal(HttpStatusCode.OK, explorer.StatusCode);
        using (var home = await insider.Http.GetAsync("/data-explorer", Cancel))
            Assert.Equal(HttpStatusCode.OK, home.StatusCode);
    }

    [Fact]
    public async Task Every_security_refusal_is_counted_by_reason_in_the_services_metrics()
    {
        var (insider, hash) = await SignedInWithToolsAsync("priya.shah@trade.example");
        using var _ = insider;
        var (other, _) = await SignedInWithToolsAsync("tom.evans@partner.example");
        using var __ = other;
        var proxyMetrics = $"http://127.0.0.1:{Platform.PortalUrl.Port}/metrics";
        var webMetrics = new Uri(Platform.WebUrl, "/metrics").ToString();
        var proxyBefore = await RefusalsAsync(proxyMetrics);
        var webBefore = await RefusalsAsync(webMetrics);

        // At a tool host: off the allow list, someone else's tool, a path that tries to leave its root.
        using (var outsider = From(Outside, insider))
        using (var response = await outsider.Http.GetAsync(ToolUrl(hash), Cancel))
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        using (var response = await other.Http.GetAsync(ToolUrl(hash), Cancel))
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        using (var response = await insider.Http.GetAsync(ToolUrl(hash, "/files/..%2fsecret"), Cancel))
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        // At the portal: the Data Explorer off the allow list.
        using (var outsider = From(Outside, insider))
        using (var response = await outsider.Http.GetAsync("/data-explorer", Cancel))
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        // At the web app itself, past the proxy: a forged identity.
        using (var direct = new HttpClient())
        using (var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Platform.WebUrl, "/datasets")))
        {
            request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, "forged.token");
            using var response = await direct.SendAsync(request, Cancel);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        // The exporter answers a scrape from a copy it keeps for a moment: read until the counts move, for a few seconds.
        await CountedAsync(proxyMetrics, proxyBefore, ("allow_list", 2), ("wrong_user", 1), ("unsafe_path", 1));
        await CountedAsync(webMetrics, webBefore, ("forged_identity", 1));
    }

    private static async Task CountedAsync(string metricsUrl, Dictionary<string, double> before, params (string Reason, int Added)[] expected)
    {
        Dictionary<string, double> after = [];
        for (var attempt = 0; attempt < 20; attempt++)
        {
            after = await RefusalsAsync(metricsUrl);
            if (expected.All(e => after.GetValueOrDefault(e.Reason) >= before.GetValueOrDefault(e.Reason) + e.Added)) return;
            await Task.Delay(250, Cancel);
        }

        Assert.Fail($"Refusals at {metricsUrl}: expected {string.Join(", ", expected.Select(e => $"{e.Reason} +{e.Added}"))}; " +
            $"before {string.Join(", ", before.Select(b => $"{b.Key}={b.Value}"))}, after {string.Join(", ", after.Select(a => $"{a.Key}={a.Value}"))}");
    }

    /// <summary>The refusals counted so far by reason, from a service's Prometheus exposition.</summary>
    private static async Task<Dictionary<string, double>> RefusalsAsync(string metricsUrl)
    {
        using var http = new HttpClient();
        var counts = new Dictionary<string, double>();
        foreach (var line in (await http.GetStringAsync(metricsUrl, Cancel)).Split('\n'))
        {
            var match = System.Text.RegularExpressions.Regex.Match(line, @"^dataworkspace_security_refusals_total\{[^}]*reason=""([a-z_]+)""[^}]*\} ([0-9.eE+]+)");
            if (match.Success) counts[match.Groups[1].Value] = counts.GetValueOrDefault(match.Groups[1].Value) + double.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        }

        return counts;
    }
}
