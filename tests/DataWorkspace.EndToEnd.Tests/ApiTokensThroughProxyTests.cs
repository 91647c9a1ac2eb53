using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using DataWorkspace.Contracts;
using DataWorkspace.Security;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// A user makes a personal API token in the portal, and a script calls the API on the portal's public address with
/// it alone (no cookie, no sign-in): data within the token's scopes, problem answers everywhere else, never a sign-in
/// redirect; tool hosts refuse it; once revoked it is refused within seconds.
/// </summary>
public sealed class ApiTokensThroughProxyTests(PlatformFixture fixture)
{
    private RunningPlatform Platform => fixture.Platform;
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private string PortalOrigin => RequestOrigin.Of(Platform.PortalUrl);

    /// <summary>Signs in through the real OpenID Connect flow and makes a token as the portal's page script would (JSON, the portal's Origin).</summary>
    private async Task<(PortalClient Browser, string Token, string Id)> MakeTokenAsync(string email, params string[] scopes)
    {
        var browser = Platform.Client();
        await browser.SignInAsync(email, cancellationToken: Cancel);
        using var request = new HttpRequestMessage(HttpMethod.Post, InternalApiTokens.ManagementApi)
        {
            Content = JsonContent.Create(new { name = "end-to-end script", expiresInDays = 7, scopes }),
        };
        request.Headers.TryAddWithoutValidation("Origin", PortalOrigin);
        using var response = await browser.Http.SendAsync(request, Cancel);
        var body = await response.Content.ReadAsStringAsync(Cancel);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"making a token answered {(int)response.StatusCode}: {body}");
        var created = JsonDocument.Parse(body).RootElement;
        return (browser, created.GetProperty("token").GetString()!, created.GetProperty("details").GetProperty("id").GetString()!);
    }

    /// <summary>What a script sends: the token and nothing else (a fresh client, no cookies, redirects not followed).</summary>
    private async Task<HttpResponseMessage> ScriptAsync(string token, HttpMethod method, string url, object? json = null)
    {
        using var client = Platform.Client(followRedirects: false);
        using var request = new HttpRequestMessage(method, new Uri(Platform.PortalUrl, url));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (json is not null) request.Content = JsonContent.Create(json);
        var response = await client.Http.SendAsync(request, Cancel);
        Assert.Empty(client.Cookies.GetAllCookies());
        return response;
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel)).RootElement;
    }

    [Fact]
    public async Task A_script_with_a_token_gets_data_within_its_scopes_and_clear_refusals_elsewhere()
    {
        var (browser, token, _) = await MakeTokenAsync("priya.shah@trade.example", ApiScopes.CatalogueRead, ApiScopes.Explorer);
        using var session = browser;

        using var datasets = await ScriptAsync(token, HttpMethod.Get, "/api/v1/datasets?q=countries");
        using var query = await ScriptAsync(token, HttpMethod.Post, "/api/v1/explorer/run", new { sql = "SELECT 41 + 1 AS answer" });
        using var tools = await ScriptAsync(token, HttpMethod.Get, "/api/v1/tools");
        using var page = await ScriptAsync(token, HttpMethod.Get, "/datasets");
        using var moreTokens = await ScriptAsync(token, HttpMethod.Post, InternalApiTokens.ManagementApi, new { name = "escalate", scopes = ApiScopes.All });
        using var mangled = await ScriptAsync(token[..^1], HttpMethod.Get, "/api/v1/datasets");
        using var unknown = await ScriptAsync("dwp_0123456789abcdef_" + new string('a', 64), HttpMethod.Get, "/api/v1/datasets");

        Assert.Equal(HttpStatusCode.OK, datasets.StatusCode);
        Assert.Contains("countries-and-territories", await datasets.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(HttpStatusCode.OK, query.StatusCode);
        Assert.Contains("42", await query.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(HttpStatusCode.Forbidden, tools.StatusCode);
        Assert.Contains("'tools' scope", (await ProblemAsync(tools)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, page.StatusCode);
        Assert.Contains("only for the portal's API", (await ProblemAsync(page)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, moreTokens.StatusCode);
        Assert.Contains("cannot make, list or revoke tokens", (await ProblemAsync(moreTokens)).GetProperty("detail").GetString());
        foreach (var refused in new[] { mangled, unknown })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.StartsWith("Bearer", refused.Headers.WwwAuthenticate.ToString());
            Assert.Contains(InternalApiTokens.Page, (await ProblemAsync(refused)).GetProperty("detail").GetString());
        }

        // Its owner's session is unchanged: the same pages and APIs as before.
        Assert.Contains("Welcome, Priya Shah", await browser.Http.GetStringAsync("/", Cancel));
        Assert.Contains("end-to-end script", await browser.Http.GetStringAsync(InternalApiTokens.Page, Cancel));
    }

    [Fact]
    public async Task A_tool_host_refuses_a_token_and_a_revoked_token_is_refused_within_seconds()
    {
        var (browser, token, id) = await MakeTokenAsync("tom.evans@partner.example", ApiScopes.CatalogueRead, ApiScopes.Tools);
        using var session = browser;
        var toolHost = $"http://jupyterlab-{UserHash.Of("not-a-user")}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/api/contents";

        using var atTool = await ScriptAsync(token, HttpMethod.Get, toolHost);
        using var before = await ScriptAsync(token, HttpMethod.Get, "/api/v1/me/access");
        using var revoke = new HttpRequestMessage(HttpMethod.Delete, $"{InternalApiTokens.ManagementApi}/{id}");
        revoke.Headers.TryAddWithoutValidation("Origin", PortalOrigin);
        using var revoked = await browser.Http.SendAsync(revoke, Cancel);

        // The proxy keeps the web app's answer about a token for a few seconds; the revocation shows within them.
        HttpStatusCode after;
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        JsonElement? problem = null;
        do
        {
            await Task.Delay(TimeSpan.FromSeconds(1), Cancel);
            using var response = await ScriptAsync(token, HttpMethod.Get, "/api/v1/me/access");
            after = response.StatusCode;
            if (after == HttpStatusCode.Unauthorized) problem = await ProblemAsync(response);
        }
        while (after != HttpStatusCode.Unauthorized && DateTimeOffset.UtcNow < deadline);

        Assert.Equal(HttpStatusCode.Forbidden, atTool.StatusCode);
        Assert.Contains("do not take personal API tokens", (await ProblemAsync(atTool)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, after);
        Assert.Equal("The API token was revoked", problem!.Value.GetProperty("title").GetString());
    }
}
