using System.Net;
using DataWorkspace.TestSupport;

namespace DataWorkspace.EndToEnd.Tests;

public sealed class RestartTests
{
    [Fact]
    public async Task Restarting_the_apphost_keeps_the_catalogue_and_the_signed_in_session()
    {
        var cancel = TestContext.Current.CancellationToken;
        var dataDirectory = Path.Combine(Path.GetTempPath(), "dw-restart-" + Guid.NewGuid().ToString("N")[..12]);
        var port = Ports.Free();
        try
        {
            CookieContainer cookies;
            await using (var first = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, port, cancel))
            {
                using var client = first.Client();
                var home = await client.SignInAsync("tom.evans@partner.example", cancellationToken: cancel);
                Assert.Contains("Welcome, Tom Evans", await home.Content.ReadAsStringAsync(cancel));
                cookies = client.Cookies;
            }

            await using var second = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, port, cancel);
            using var returning = second.Client(followRedirects: false);
            returning.Cookies.Add(cookies.GetAllCookies());

            var again = await returning.Http.GetAsync("/", cancel);

            // The proxy's keys live in the catalogue database, so the session made before the restart still opens the portal.
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Contains("Welcome, Tom Evans", await again.Content.ReadAsStringAsync(cancel));
            Assert.Equal(1L, await second.CatalogueScalarAsync<long>("SELECT count(*) FROM users WHERE email = $1", "tom.evans@partner.example"));
        }
        finally
        {
            TestDirectories.Delete(dataDirectory);
        }
    }
}
