using System.Security.Claims;
using System.Security.Cryptography;
using DataWorkspace.Contracts;
using DataWorkspace.Proxy.SignIn;
using DataWorkspace.Security;
using DataWorkspace.TestSupport;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Proxy.Tests;

/// <summary>
/// A sign-in the identity provider accepted is reported to the web app, which owns the audit log and the users: it is
/// let in, refused for a deactivated account, or stopped with a page saying so when the web app does not answer.
/// </summary>
public sealed class SignInAdmissionTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private static readonly PlatformUser Priya = new("priya-id", "priya.shah@trade.example", "Priya Shah", "Priya", "Shah", []);
    private readonly IdentitySigningKey key = new(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));

    private (TokenValidatedContext Context, IServiceProvider Services, ProxyOptions Options) SignIn(string webUrl)
    {
        var options = new ProxyOptions { RootDomain = "dataworkspace.localhost", WebUrl = webUrl };
        var services = new ServiceCollection()
            .AddLogging()
            .AddMetrics()
            .AddSingleton(new IdentityToken(key, TimeProvider.System))
            .AddSingleton(Options.Create(options))
            .AddSingleton(TimeProvider.System)
            .AddSingleton<SecurityRefusals>()
            .AddSingleton<DeactivatedUsers>()
            .AddSingleton<AccountsClient>()
            .BuildServiceProvider();
        var http = new DefaultHttpContext { RequestServices = services };
        http.Response.Body = new MemoryStream();
        var scheme = new AuthenticationScheme(OpenIdConnectDefaults.AuthenticationScheme, null, typeof(OpenIdConnectHandler));
        var context = new TokenValidatedContext(http, scheme, new OpenIdConnectOptions(), new ClaimsPrincipal(), new AuthenticationProperties { RedirectUri = "/datasets?q=trade" });
        return (context, services, options);
    }

    private static string Body(HttpContext http)
    {
        http.Response.Body.Position = 0;
        return new StreamReader(http.Response.Body).ReadToEnd();
    }

    [Fact]
    public async Task A_sign_in_the_web_app_records_is_let_in()
    {
        await using var web = await StandInWebApp.StartAsync(key);
        var (context, services, options) = SignIn(web.Url);
        services.GetRequiredService<DeactivatedUsers>().Deactivated(Priya.Id);

        var admitted = await SignInExtensions.AdmitAsync(context, Priya, options);

        Assert.True(admitted);
        Assert.Equal([new SignInReport(Priya.Id, Priya.Email, null)], web.SignIns);
        // The web app's answer is newer than what this replica knew: her new session is not refused.
        Assert.False(services.GetRequiredService<DeactivatedUsers>().Contains(Priya.Id));
    }

    [Fact]
    public async Task A_deactivated_account_is_refused_with_a_page_saying_so()
    {
        await using var web = await StandInWebApp.StartAsync(key);
        web.Deactivated.Add(Priya.Id);
        var (context, services, options) = SignIn(web.Url);

        var admitted = await SignInExtensions.AdmitAsync(context, Priya, options);

        Assert.False(admitted);
        Assert.Equal(StatusCodes.Status403Forbidden, context.Response.StatusCode);
        Assert.Contains("Your account has been deactivated", Body(context.HttpContext));
        Assert.True(services.GetRequiredService<DeactivatedUsers>().Contains(Priya.Id));
    }

    [Fact]
    public async Task When_the_web_app_does_not_answer_the_sign_in_stops_with_a_page_saying_to_try_again()
    {
        var (context, _, options) = SignIn($"http://127.0.0.1:{Ports.Free()}");

        var admitted = await SignInExtensions.AdmitAsync(context, Priya, options);

        Assert.False(admitted);
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
        var page = Body(context.HttpContext);
        Assert.Contains("The portal is not answering", page);
        Assert.Contains("Try again in a minute", page);
        Assert.Contains("href=\"/datasets?q=trade\"", page);
    }
}
