using System.Net;
using DataWorkspace.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.EndToEnd.Tests;

public sealed class RestartTests
{
    [Fact]
    public async Task Restarting_the_apphost_keeps_the_catalogue_and_the_sessions_of_users_the_identity_provider_still_accepts()
    {
        var cancel = TestContext.Current.CancellationToken;
        var dataDirectory = Path.Combine(Path.GetTempPath(), "dw-restart-" + Guid.NewGuid().ToString("N")[..12]);
        var port = Ports.Free();
        try
        {
            CookieContainer cookies, leaverCookies;
            await using (var first = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, port, cancel))
            {
                using var client = first.Client();
                var home = await client.SignInAsync("tom.evans@partner.example", cancellationToken: cancel);
                Assert.Contains("Welcome, Tom Evans", await home.Content.ReadAsStringAsync(cancel));
                cookies = client.Cookies;
                using var leaver = first.Client();
                await leaver.SignInAsync("priya.shah@trade.example", cancellationToken: cancel);
                leaverCookies = leaver.Cookies;
            }

            await using var second = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, port, cancel);
            var restartedAt = await second.CatalogueScalarAsync<DateTime>("SELECT now()");
            using var returning = second.Client(followRedirects: false);
            returning.Cookies.Add(cookies.GetAllCookies());
            using var leaving = second.Client(followRedirects: false);
            leaving.Cookies.Add(leaverCookies.GetAllCookies());
            var tom = await second.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", "tom.evans@partner.example");
            var priya = await second.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", "priya.shah@trade.example");
            Task<long> SessionsAsync(string userId) => second.CatalogueScalarAsync<long>("SELECT count(*) FROM proxy.sessions WHERE user_id = $1", userId);

            // Priya leaves after the restart: the identity provider no longer accepts her.
            await second.SetIdentityUserStatusAsync("priya.shah@trade.example", "Removed", cancel);
            await WaitUntilAsync(async () => await SessionsAsync(priya!) == 0, "the periodic check to end the leaver's session", cancel);
            // Tom's session, made before the restart, was checked after it with the provider, which still accepts him.
            await WaitUntilAsync(() => second.CatalogueScalarAsync<bool>("SELECT coalesce(bool_and(checked_at > $2), false) FROM proxy.sessions WHERE user_id = $1", tom!, restartedAt),
                "the returning user's session to be checked after the restart", cancel);
            var again = await returning.Http.GetAsync("/", cancel);
            var gone = await leaving.Http.GetAsync("/", cancel);

            // The proxy's keys live in the catalogue database, so the session made before the restart still opens the portal.
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Contains("Welcome, Tom Evans", await again.Content.ReadAsStringAsync(cancel));
            Assert.Equal(1L, await second.CatalogueScalarAsync<long>("SELECT count(*) FROM users WHERE email = $1", "tom.evans@partner.example"));
            // The leaver's does not: she is sent to sign in.
            Assert.Equal(HttpStatusCode.Redirect, gone.StatusCode);
            Assert.Equal(second.IdentityUrl.Authority, gone.Headers.Location!.Authority);

            // An identity provider that stops answering signs nobody out: the checks fail, and the session stays.
            var commands = second.App.Services.GetRequiredService<ResourceCommandService>();
            await commands.ExecuteCommandAsync("identity", KnownResourceCommands.StopCommand, cancel);
            try
            {
                using var metrics = new HttpClient();
                await WaitUntilAsync(async () => (await metrics.GetStringAsync($"http://127.0.0.1:{port}/metrics", cancel)).Contains("outcome=\"provider_unavailable\""),
                    "a check to find the identity provider unavailable", cancel);
                var whileDown = await returning.Http.GetAsync("/", cancel);
                Assert.Equal(HttpStatusCode.OK, whileDown.StatusCode);
                Assert.Contains("Welcome, Tom Evans", await whileDown.Content.ReadAsStringAsync(cancel));
                Assert.Equal(1L, await SessionsAsync(tom!));
            }
            finally
            {
                await commands.ExecuteCommandAsync("identity", KnownResourceCommands.StartCommand, CancellationToken.None);
            }
        }
        finally
        {
            TestDirectories.Delete(dataDirectory);
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, CancellationToken cancel)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(TimeSpan.FromSeconds(90));
        while (!await condition())
        {
            try
            {
                await Task.Delay(250, deadline.Token);
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                Assert.Fail($"Waited 90 seconds for {what}");
            }
        }
    }
}
