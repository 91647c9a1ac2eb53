using System.Security.Cryptography;
using System.Text.Json;
using DataWorkspace.Contracts;
using DataWorkspace.Proxy.SignIn;
using DataWorkspace.Security;
using DataWorkspace.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Proxy.Tests;

/// <summary>
/// A script's personal API token at the proxy: checked with the web app (by its hash, with the proxy's service
/// identity), the answer kept a few seconds, and every refusal a problem saying what to do, never a sign-in page or a 500.
/// </summary>
public sealed class ApiTokenSignInTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private readonly IdentitySigningKey key = new(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
    private readonly SteppedClock clock = new();
    private static readonly ApiTokenText Token = ApiTokenText.New();

    private sealed class SteppedClock : TimeProvider
    {
        private TimeSpan offset;
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
        public void Advance(TimeSpan by) => offset += by;
    }

    /// <summary>The web app's token check as a stand-in answers it: the checks it was asked, and the verdict it gives.</summary>
    private sealed class StandInChecks : IAsyncDisposable
    {
        private WebApplication app = null!;
        public List<ApiTokenCheck> Asked { get; } = [];
        public ApiTokenVerdict Verdict { get; set; } = new(ApiTokenStatus.Valid, "", "priya-id", "priya.shah@trade.example", "Priya Shah", [ApiScopes.CatalogueRead], DateTimeOffset.UtcNow.AddDays(30));
        public string Url => app.Urls.Single();

        public static async Task<StandInChecks> StartAsync(IdentitySigningKey key)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls($"http://127.0.0.1:{Ports.Free()}");
            var web = new StandInChecks { app = builder.Build() };
            var tokens = new IdentityToken(key, TimeProvider.System);
            web.app.MapPost(InternalApiTokens.Prefix + InternalApiTokens.Checks, (ApiTokenCheck check, HttpContext http) =>
            {
                if (tokens.VerifyService(http.Request.Headers[IdentityHeaders.ServiceIdentity].ToString()).Identity is null) return Results.StatusCode(StatusCodes.Status403Forbidden);
                lock (web.Asked) web.Asked.Add(check);
                return Results.Ok(web.Verdict);
            });
            await web.app.StartAsync(TestContext.Current.CancellationToken);
            return web;
        }

        public ValueTask DisposeAsync() => app.DisposeAsync();
    }

    private (ApiTokenSignIn SignIn, IServiceProvider Services) Proxy(string webUrl)
    {
        var services = new ServiceCollection()
            .AddLogging()
            .AddMetrics()
            .AddSingleton(new IdentityToken(key, TimeProvider.System))
            .AddSingleton(Options.Create(new ProxyOptions { RootDomain = "dataworkspace.localhost", WebUrl = webUrl }))
            .AddSingleton<TimeProvider>(clock)
            .AddSingleton<SecurityRefusals>()
            .AddSingleton<DeactivatedUsers>()
            .AddSingleton<ApiTokenSignIn>()
            .BuildServiceProvider();
        return (services.GetRequiredService<ApiTokenSignIn>(), services);
    }

    private static DefaultHttpContext Request(IServiceProvider services, string path, string? authorization)
    {
        var http = new DefaultHttpContext { RequestServices = services };
        http.Request.Host = new HostString("dataworkspace.localhost:8000");
        http.Request.Path = path;
        if (authorization is not null) http.Request.Headers.Authorization = authorization;
        http.Response.Body = new MemoryStream();
        return http;
    }

    private static JsonElement Problem(HttpContext http)
    {
        Assert.Equal("application/problem+json", http.Response.ContentType);
        http.Response.Body.Position = 0;
        return JsonDocument.Parse(http.Response.Body).RootElement;
    }

    [Fact]
    public async Task A_valid_token_signs_in_its_owner_with_its_scopes_and_the_answer_is_kept_a_few_seconds()
    {
        await using var web = await StandInChecks.StartAsync(key);
        var (signIn, services) = Proxy(web.Url);

        var first = await signIn.SignInAsync(Request(services, "/api/v1/datasets", $"Bearer {Token.Reveal()}"), "10.1.2.3");
        var soonAfter = await signIn.SignInAsync(Request(services, "/api/v1/me/access", $"bearer  {Token.Reveal()}"), "10.1.2.3");
        var askedWithin = web.Asked.Count;
        clock.Advance(ApiTokenSignIn.CheckedFor + TimeSpan.FromSeconds(1));
        web.Verdict = new ApiTokenVerdict(ApiTokenStatus.Revoked, "This API token was revoked.");
        var revokedContext = Request(services, "/api/v1/datasets", $"Bearer {Token.Reveal()}");
        var afterRevoking = await signIn.SignInAsync(revokedContext, "10.1.2.3");

        Assert.Equal(("priya-id", "priya.shah@trade.example", "Priya Shah", "10.1.2.3"), (first!.UserId, first.Email, first.Name, first.ClientIp));
        Assert.Equal([ApiScopes.CatalogueRead], first.ApiToken!.Scopes);
        Assert.Equal(Token.Id, first.ApiToken.Id);
        Assert.Empty(first.Roles);
        Assert.NotNull(soonAfter);
        Assert.Equal(1, askedWithin);
        // The web app is sent the token's id and hash, never its secret.
        Assert.Equal(new ApiTokenCheck(Token.Id, Token.Hash, "10.1.2.3"), web.Asked[0]);
        Assert.Null(afterRevoking);
        Assert.Equal(StatusCodes.Status401Unauthorized, revokedContext.Response.StatusCode);
        Assert.StartsWith("Bearer", revokedContext.Response.Headers.WWWAuthenticate.ToString());
        Assert.Equal("The API token was revoked", Problem(revokedContext).GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_token_is_refused_with_a_problem_for_pages_token_management_a_malformed_value_and_a_deactivated_owner()
    {
        await using var web = await StandInChecks.StartAsync(key);
        var (signIn, services) = Proxy(web.Url);
        services.GetRequiredService<DeactivatedUsers>().Deactivated("priya-id");

        var page = Request(services, "/datasets", $"Bearer {Token.Reveal()}");
        var management = Request(services, InternalApiTokens.ManagementApi, $"Bearer {Token.Reveal()}");
        var malformed = Request(services, "/api/v1/datasets", "Bearer dwp_not-a-token");
        var leaver = Request(services, "/api/v1/datasets", $"Bearer {Token.Reveal()}");
        foreach (var context in new[] { page, management, malformed, leaver }) Assert.Null(await signIn.SignInAsync(context, "10.1.2.3"));

        Assert.Equal(StatusCodes.Status403Forbidden, page.Response.StatusCode);
        Assert.Contains("only for the portal's API under /api/v1/", Problem(page).GetProperty("detail").GetString());
        Assert.Equal(StatusCodes.Status403Forbidden, management.Response.StatusCode);
        Assert.Contains("cannot make, list or revoke tokens", Problem(management).GetProperty("detail").GetString());
        Assert.Equal(StatusCodes.Status401Unauthorized, malformed.Response.StatusCode);
        Assert.Contains("://dataworkspace.localhost:8000/account/tokens", Problem(malformed).GetProperty("detail").GetString());
        Assert.Equal(StatusCodes.Status403Forbidden, leaver.Response.StatusCode);
        Assert.Contains("has been deactivated", Problem(leaver).GetProperty("detail").GetString());
        // Neither a page nor a malformed value is worth asking the web app about.
        Assert.Single(web.Asked);
    }

    [Fact]
    public async Task An_address_that_keeps_sending_refused_tokens_is_told_to_wait_and_the_web_app_is_not_asked_meanwhile()
    {
        await using var web = await StandInChecks.StartAsync(key);
        web.Verdict = new ApiTokenVerdict(ApiTokenStatus.Unknown, "This is not a Data Workspace API token.");
        var (signIn, services) = Proxy(web.Url);

        for (var i = 0; i < ApiTokenSignIn.MostRefusedPerWindow; i++)
        {
            var guess = Request(services, "/api/v1/datasets", $"Bearer {ApiTokenText.New().Reveal()}");
            Assert.Null(await signIn.SignInAsync(guess, "10.6.6.6"));
            Assert.Equal(StatusCodes.Status401Unauthorized, guess.Response.StatusCode);
        }
        var askedBefore = web.Asked.Count;
        var throttled = Request(services, "/api/v1/datasets", $"Bearer {ApiTokenText.New().Reveal()}");
        Assert.Null(await signIn.SignInAsync(throttled, "10.6.6.6"));
        var askedWhileThrottled = web.Asked.Count - askedBefore;
        web.Verdict = new ApiTokenVerdict(ApiTokenStatus.Valid, "", "priya-id", "priya.shah@trade.example", "Priya Shah", [ApiScopes.CatalogueRead], DateTimeOffset.UtcNow.AddDays(30));
        var otherAddress = await signIn.SignInAsync(Request(services, "/api/v1/datasets", $"Bearer {Token.Reveal()}"), "10.1.2.3");
        clock.Advance(ApiTokenSignIn.RefusalWindow);
        var aMinuteLater = await signIn.SignInAsync(Request(services, "/api/v1/datasets", $"Bearer {Token.Reveal()}"), "10.6.6.6");

        Assert.Equal(StatusCodes.Status429TooManyRequests, throttled.Response.StatusCode);
        Assert.InRange(int.Parse(throttled.Response.Headers.RetryAfter.ToString(), System.Globalization.CultureInfo.InvariantCulture), 1, 60);
        Assert.Contains("Check the token your script sends", Problem(throttled).GetProperty("detail").GetString());
        Assert.Equal(0, askedWhileThrottled);
        Assert.NotNull(otherAddress);
        Assert.NotNull(aMinuteLater);
    }

    [Fact]
    public async Task When_the_web_app_does_not_answer_a_token_gets_a_503_saying_to_try_again()
    {
        var (signIn, services) = Proxy($"http://127.0.0.1:{Ports.Free()}");
        var context = Request(services, "/api/v1/datasets", $"Bearer {Token.Reveal()}");

        Assert.Null(await signIn.SignInAsync(context, "10.1.2.3"));

        Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
        Assert.Contains("Try again in a minute", Problem(context).GetProperty("detail").GetString());
    }

    [Fact]
    public void The_signed_identity_carries_a_tokens_grant_to_the_web_app_and_a_sessions_carries_none()
    {
        var tokens = new IdentityToken(key, TimeProvider.System);
        var grant = new ApiTokenGrant(Token.Id, [ApiScopes.Files, ApiScopes.Tools]);

        var script = tokens.Verify(tokens.Issue(new PlatformIdentity("priya-id", "priya.shah@trade.example", "Priya Shah", [], "10.1.2.3", grant))).Identity!;
        var session = tokens.Verify(tokens.Issue(new PlatformIdentity("priya-id", "priya.shah@trade.example", "Priya Shah", ["admin"], "10.1.2.3"))).Identity!;

        Assert.Equal(Token.Id, script.ApiToken!.Id);
        Assert.Equal([ApiScopes.Files, ApiScopes.Tools], script.ApiToken.Scopes);
        Assert.Null(session.ApiToken);
        Assert.Equal(["admin"], session.Roles);
    }

    [Fact]
    public async Task A_tool_host_refuses_a_platform_token_and_leaves_a_tools_own_authorization_alone()
    {
        var (_, services) = Proxy("http://127.0.0.1:1");
        var withToken = Request(services, "/api/contents", $"Bearer {Token.Reveal()}");
        var toolsOwn = Request(services, "/api/contents", "token 0123456789abcdef");

        Assert.True(await ApiTokenSignIn.RefusedOnToolHostAsync(withToken));
        Assert.False(await ApiTokenSignIn.RefusedOnToolHostAsync(toolsOwn));
        Assert.Equal(StatusCodes.Status403Forbidden, withToken.Response.StatusCode);
        Assert.Contains("do not take personal API tokens", Problem(withToken).GetProperty("detail").GetString());
    }
}
