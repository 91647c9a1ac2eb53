using System.Net;
using DataWorkspace.Contracts;

namespace DataWorkspace.EndToEnd.Tests;

public sealed class SignInThroughProxyTests(PlatformFixture fixture)
{
    private RunningPlatform Platform => fixture.Platform;
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Signing_in_through_the_real_oidc_flow_lands_on_the_home_page_with_the_users_name()
    {
        using var client = Platform.Client();

        var home = await client.SignInAsync("tom.evans@partner.example", cancellationToken: Cancel);

        Assert.Equal(HttpStatusCode.OK, home.StatusCode);
        Assert.Equal(Platform.PortalUrl.Host, home.RequestMessage!.RequestUri!.Host);
        Assert.Contains("Welcome, Tom Evans", await home.Content.ReadAsStringAsync(Cancel));
        Assert.Equal("tom.evans@partner.example", await Platform.CatalogueScalarAsync<string>("SELECT email FROM users WHERE email = $1", "tom.evans@partner.example"));
    }

    [Fact]
    public async Task An_unknown_demo_email_is_refused_at_the_sign_in_form_with_a_message()
    {
        using var client = Platform.Client();

        var response = await client.SignInAsync("nobody@nowhere.example", cancellationToken: Cancel);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("No demo user has the email address", await response.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public async Task The_session_cookie_is_http_only_lax_and_scoped_to_the_root_domain()
    {
        using var client = Platform.Client();
        await client.SignInAsync("priya.shah@trade.example", cancellationToken: Cancel);

        var session = client.Cookies.GetAllCookies().Single(cookie => cookie.Name == "dw_session");

        Assert.True(session.HttpOnly);
        Assert.Equal("dataworkspace.localhost", session.Domain.TrimStart('.'));
        // Scoped to the root domain, so the proxy sees it on tool and visualisation subdomains too.
        var toolHost = new Uri($"http://jupyterlab-0a1b2c3d.dataworkspace.localhost:{Platform.PortalUrl.Port}/");
        Assert.Contains(client.Cookies.GetCookies(toolHost), cookie => cookie.Name == "dw_session");
        Assert.InRange(session.Expires - DateTime.Now, TimeSpan.FromHours(9.9), TimeSpan.FromHours(10.1));
    }

    [Fact]
    public async Task A_forged_identity_header_is_ignored_and_the_real_signed_in_user_is_served()
    {
        using var client = Platform.Client();
        await client.SignInAsync("priya.shah@trade.example", cancellationToken: Cancel);
        var attacker = new PlatformIdentity("someone-else", "morgan.lee@trade.example", "Morgan Lee", ["admin"], "127.0.0.1");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, "v1.eyJzdWIiOiJzb21lb25lLWVsc2UifQ.AAAA");
        request.Headers.TryAddWithoutValidation(IdentityHeaders.UserEmail, attacker.Email);
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SsoEmail, attacker.Email);
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SsoUserId, attacker.UserId);

        var response = await client.Http.SendAsync(request, Cancel);
        var html = await response.Content.ReadAsStringAsync(Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Welcome, Priya Shah", html);
        Assert.DoesNotContain("Morgan Lee", html);
    }

    [Fact]
    public async Task A_request_straight_to_the_web_app_without_a_valid_signature_gets_401()
    {
        using var http = new HttpClient { BaseAddress = Platform.WebUrl };
        using var forged = new HttpRequestMessage(HttpMethod.Get, "/");
        forged.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, "v1.eyJzdWIiOiJ4In0.AAAA");
        forged.Headers.TryAddWithoutValidation(IdentityHeaders.UserEmail, "priya.shah@trade.example");

        var bare = await http.GetAsync("/", Cancel);
        var withForgery = await http.SendAsync(forged, Cancel);

        Assert.Equal(HttpStatusCode.Unauthorized, bare.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, withForgery.StatusCode);
        Assert.Contains("signature", await withForgery.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public async Task Healthcheck_answers_ok_without_a_session()
    {
        using var client = Platform.Client(followRedirects: false);

        var response = await client.Http.GetAsync("/healthcheck", Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("OK", await response.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public async Task Without_a_session_a_page_redirects_to_the_identity_provider_and_an_api_call_gets_401()
    {
        using var client = Platform.Client(followRedirects: false);

        var page = await client.Http.GetAsync("/", Cancel);
        using var apiRequest = new HttpRequestMessage(HttpMethod.Post, "/api/v1/anything");
        var api = await client.Http.SendAsync(apiRequest, Cancel);

        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Equal(Platform.IdentityUrl.Authority, page.Headers.Location!.Authority);
        Assert.Contains("code_challenge=", page.Headers.Location.Query);
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
    }

    [Fact]
    public async Task Every_portal_response_carries_the_security_headers()
    {
        using var client = Platform.Client(followRedirects: false);

        var response = await client.Http.GetAsync("/", Cancel);

        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("same-origin", response.Headers.GetValues("Referrer-Policy").Single());
        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("default-src 'self'", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.False(response.Headers.Contains("Server"));
        // A local run is plain http, so no HSTS (it would pin the browser to https for localhost).
        Assert.False(response.Headers.Contains("Strict-Transport-Security"));
    }

    [Fact]
    public async Task Operator_endpoints_are_not_served_on_the_public_host()
    {
        using var client = Platform.Client();
        await client.SignInAsync("priya.shah@trade.example", cancellationToken: Cancel);

        var metrics = await client.Http.GetAsync("/metrics", Cancel);

        Assert.Equal(HttpStatusCode.NotFound, metrics.StatusCode);
    }

    [Fact]
    public async Task An_unknown_host_gets_a_404_naming_the_portal()
    {
        using var client = Platform.Client(followRedirects: false);

        var response = await client.Http.GetAsync(new Uri($"http://elsewhere.localhost:{Platform.PortalUrl.Port}/"), Cancel);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains($"dataworkspace.localhost:{Platform.PortalUrl.Port}", await response.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public async Task Signing_out_ends_both_sessions_so_the_next_visit_asks_to_sign_in_again()
    {
        using var client = Platform.Client();
        await client.SignInAsync("morgan.lee@trade.example", cancellationToken: Cancel);

        var afterSignOut = await client.Http.GetAsync("/auth/sign-out", Cancel);

        Assert.EndsWith("/account/sign-in", afterSignOut.RequestMessage!.RequestUri!.AbsolutePath);
        Assert.Contains("Sign in to Data Workspace", await afterSignOut.Content.ReadAsStringAsync(Cancel));
        Assert.DoesNotContain(client.Cookies.GetAllCookies(), cookie => cookie.Name == "dw_session" && !cookie.Expired);
    }

    [Fact]
    public async Task The_session_cookie_carries_only_a_key_and_the_session_is_kept_by_the_platform()
    {
        using var client = Platform.Client();
        await client.SignInAsync("priya.shah@trade.example", cancellationToken: Cancel);

        var cookies = client.Cookies.GetAllCookies().Where(cookie => cookie.Name.StartsWith("dw_session", StringComparison.Ordinal)).ToList();

        // One small cookie on every request to the portal and every tool, not 5-6 KB in chunks.
        var session = Assert.Single(cookies);
        Assert.InRange(session.Value.Length, 1, 400);
        var userId = await Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", "priya.shah@trade.example");
        var expires = await Platform.CatalogueScalarAsync<DateTime>("SELECT max(expires_at) FROM proxy.sessions WHERE user_id = $1", userId!);
        Assert.InRange(expires - DateTime.UtcNow, TimeSpan.FromHours(9.9), TimeSpan.FromHours(10.1));
        // The stored ticket is encrypted: the user's email is not readable in the table.
        var readable = await Platform.CatalogueScalarAsync<long>("SELECT count(*) FROM proxy.sessions WHERE user_id = $1 AND position(convert_to('priya.shah', 'UTF8') in ticket) > 0", userId!);
        Assert.Equal(0, readable);
    }

    [Fact]
    public async Task A_session_cookie_copied_before_signing_out_no_longer_works_afterwards()
    {
        using var client = Platform.Client();
        await client.SignInAsync("morgan.lee@trade.example", cancellationToken: Cancel);
        var copied = client.Cookies.GetAllCookies().Single(cookie => cookie.Name == "dw_session");
        using var thief = Platform.Client(followRedirects: false);
        thief.Cookies.Add(new Cookie(copied.Name, copied.Value, "/", copied.Domain));
        var before = await thief.Http.GetAsync("/", Cancel);
        // On a tool host too (someone's tool: being signed in, the copy is told whose it is not).
        var toolHost = new Uri($"http://sample-00000000.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/");
        using var atTools = new HttpClient(new SocketsHttpHandler { ConnectCallback = PortalClient.ConnectToLoopbackAsync, UseProxy = false, UseCookies = false, AllowAutoRedirect = false });
        using var toolBefore = await atTools.SendAsync(WithCookie(toolHost, copied), Cancel);

        await client.Http.GetAsync("/auth/sign-out", Cancel);
        var after = await thief.Http.GetAsync("/", Cancel);
        using var toolAfter = await atTools.SendAsync(WithCookie(toolHost, copied), Cancel);

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Contains("Morgan Lee", await before.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(HttpStatusCode.Forbidden, toolBefore.StatusCode);
        Assert.Contains("morgan.lee@trade.example", await toolBefore.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
        Assert.Equal(Platform.IdentityUrl.Authority, after.Headers.Location!.Authority);
        Assert.Equal(HttpStatusCode.Redirect, toolAfter.StatusCode);
        Assert.Contains("/auth/sign-in?returnUrl=", toolAfter.Headers.Location!.ToString());
    }

    private static HttpRequestMessage WithCookie(Uri url, Cookie cookie)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Add("Cookie", $"{cookie.Name}={cookie.Value}");
        return request;
    }
}
