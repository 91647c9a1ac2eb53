using System.Net;
using System.Text.RegularExpressions;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// People who leave, through the whole graph and the real OpenID Connect sign-in: one an administrator deactivates,
/// one the identity provider stops accepting. Each loses their session; neither signs in again until let back.
/// </summary>
public sealed partial class LeaversThroughProxyTests(PlatformFixture fixture)
{
    private RunningPlatform Platform => fixture.Platform;
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>Polls <paramref name="condition"/> until it holds; the periodic check runs every two seconds in the test graph.</summary>
    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        deadline.CancelAfter(TimeSpan.FromSeconds(90));
        while (!await condition())
        {
            try
            {
                await Task.Delay(250, deadline.Token);
            }
            catch (OperationCanceledException) when (!Cancel.IsCancellationRequested)
            {
                Assert.Fail($"Waited 90 seconds for {what}");
            }
        }
    }

    private static async Task<HttpResponseMessage> PressAsync(PortalClient admin, string userId, string handler)
    {
        var page = await admin.Http.GetStringAsync($"/admin/users/{userId}", Cancel);
        return await admin.Http.PostAsync($"/admin/users/{userId}?handler={handler}", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = AntiforgeryToken().Match(page).Groups[1].Value,
        }), Cancel);
    }

    [Fact]
    public async Task A_user_an_administrator_deactivates_loses_their_session_at_once_and_cannot_sign_in_until_reactivated()
    {
        var email = RunningPlatform.LeaverUsers[0].Email;
        using var leaver = Platform.Client();
        Assert.Contains("Welcome, Alex Leaver", await (await leaver.SignInAsync(email, cancellationToken: Cancel)).Content.ReadAsStringAsync(Cancel));
        var userId = (await Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", email))!;
        var toolHost = new Uri($"http://sample-{DataWorkspace.Contracts.UserHash.Of(userId)}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/");
        using var admin = Platform.Client();
        await admin.SignInAsync("morgan.lee@trade.example", cancellationToken: Cancel);

        var deactivated = await PressAsync(admin, userId, "Deactivate");

        Assert.Contains($"{email} is deactivated", WebUtility.HtmlDecode(await deactivated.Content.ReadAsStringAsync(Cancel)));
        // The next request with the session they had does not reach the portal, nor their tools: the identity provider
        // still signs them in, and the platform refuses them with a page saying why.
        var next = await leaver.Http.GetAsync("/", Cancel);
        Assert.Equal(HttpStatusCode.Forbidden, next.StatusCode);
        Assert.Contains("Your account has been deactivated", await next.Content.ReadAsStringAsync(Cancel));
        var atTool = await leaver.Http.GetAsync(toolHost, Cancel);
        Assert.Equal(HttpStatusCode.Forbidden, atTool.StatusCode);
        Assert.Contains("Your account has been deactivated", await atTool.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(0L, await Platform.CatalogueScalarAsync<long>("SELECT count(*) FROM proxy.sessions WHERE user_id = $1", userId));
        // Signing in afresh is refused too, and audited.
        using var again = Platform.Client();
        var refused = await again.SignInAsync(email, cancellationToken: Cancel);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("Your account has been deactivated", await refused.Content.ReadAsStringAsync(Cancel));
        Assert.True(await Platform.CatalogueScalarAsync<long>("SELECT count(*) FROM audit_events WHERE action = 'sign-in.refused' AND subject_user_id = $1", userId) >= 2);

        var reactivated = await PressAsync(admin, userId, "Reactivate");

        Assert.Contains($"{email} is reactivated", WebUtility.HtmlDecode(await reactivated.Content.ReadAsStringAsync(Cancel)));
        using var back = Platform.Client();
        var home = await back.SignInAsync(email, cancellationToken: Cancel);
        Assert.Equal(HttpStatusCode.OK, home.StatusCode);
        Assert.Contains("Welcome, Alex Leaver", await home.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public async Task A_user_the_identity_provider_disables_is_signed_out_by_the_periodic_check_while_others_stay_signed_in()
    {
        var email = RunningPlatform.LeaverUsers[1].Email;
        using var leaver = Platform.Client();
        await leaver.SignInAsync(email, cancellationToken: Cancel);
        var userId = (await Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", email))!;
        using var stayer = Platform.Client();
        await stayer.SignInAsync("tom.evans@partner.example", cancellationToken: Cancel);
        var tom = (await Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", "tom.evans@partner.example"))!;
        Assert.Contains("Welcome, Sam Gone", await leaver.Http.GetStringAsync("/", Cancel));
        var disabledAt = await Platform.CatalogueScalarAsync<DateTime>("SELECT now()");

        await Platform.SetIdentityUserStatusAsync(email, "Disabled", Cancel);
        try
        {
            await WaitUntilAsync(async () => await Platform.CatalogueScalarAsync<long>("SELECT count(*) FROM proxy.sessions WHERE user_id = $1", userId) == 0,
                "the periodic check to end the session");

            // Signed out: the portal sends them to the identity provider, which no longer signs them in.
            var next = await leaver.Http.GetAsync("/", Cancel);
            Assert.EndsWith("/account/sign-in", next.RequestMessage!.RequestUri!.AbsolutePath);
            using var again = Platform.Client();
            var refused = await again.SignInAsync(email, cancellationToken: Cancel);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("disabled", await refused.Content.ReadAsStringAsync(Cancel));
            // Someone the provider still accepts stays signed in through the same checks (and has their tokens renewed).
            await WaitUntilAsync(() => Platform.CatalogueScalarAsync<bool>("SELECT coalesce(bool_and(checked_at > $2), false) FROM proxy.sessions WHERE user_id = $1", tom, disabledAt),
                "the other user's session to be checked again");
            Assert.Contains("Welcome, Tom Evans", await stayer.Http.GetStringAsync("/", Cancel));
        }
        finally
        {
            await Platform.SetIdentityUserStatusAsync(email, "Active", CancellationToken.None);
        }
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"")]
    private static partial Regex AntiforgeryToken();
}
