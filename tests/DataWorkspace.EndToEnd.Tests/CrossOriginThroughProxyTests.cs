using System.Net;
using System.Text;
using System.Text.Json;
using DataWorkspace.Contracts;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// A tool's page is the same site as the portal, so the browser sends the user's session cookie with whatever it
/// asks of the portal. Through the real proxy, after a real sign-in: it can neither stop the user's tool nor sign
/// them out, and the portal's own pages still can.
/// </summary>
public sealed class CrossOriginThroughProxyTests(PlatformFixture fixture)
{
    private RunningPlatform Platform => fixture.Platform;
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_tool_hosts_page_can_neither_stop_its_users_tool_nor_sign_them_out()
    {
        using var client = Platform.Client();
        await client.SignInAsync("priya.shah@trade.example", cancellationToken: Cancel);
        var id = (await Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", "priya.shah@trade.example"))!;
        await Platform.CatalogueScalarAsync<object>(
            "INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test') ON CONFLICT DO NOTHING", id);
        var portal = Platform.PortalUrl.GetLeftPart(UriPartial.Authority);
        var toolPage = $"http://sample-{UserHash.Of(id)}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}";

        using (var started = await SendAsync(client, HttpMethod.Post, "/api/v1/tools/sample/start", portal, new StringContent("{}", Encoding.UTF8, "application/json")))
            Assert.True(started.IsSuccessStatusCode, $"{(int)started.StatusCode} {await started.Content.ReadAsStringAsync(Cancel)}");
        Assert.Equal("Running", await StateWhenSettledAsync(client));

        using (var stop = await SendAsync(client, HttpMethod.Post, "/api/v1/tools/sample/stop", toolPage, new StringContent("", Encoding.UTF8, "text/plain")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, stop.StatusCode);
            Assert.Contains("Only the portal's own pages can make changes", await stop.Content.ReadAsStringAsync(Cancel));
        }

        Assert.Equal("Running", await StateWhenSettledAsync(client));

        // An image on the tool's page pointing at the sign-out address, and a script posting to it.
        using (var image = new HttpRequestMessage(HttpMethod.Get, "/auth/sign-out"))
        {
            image.Headers.TryAddWithoutValidation("Sec-Fetch-Site", "same-site");
            image.Headers.TryAddWithoutValidation("Sec-Fetch-Dest", "image");
            using var refused = await client.Http.SendAsync(image, Cancel);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("You are still signed in", await refused.Content.ReadAsStringAsync(Cancel));
        }

        using (var posted = await SendAsync(client, HttpMethod.Post, "/auth/sign-out", toolPage, null))
            Assert.Equal(HttpStatusCode.Forbidden, posted.StatusCode);
        Assert.Contains("Priya Shah", await client.Http.GetStringAsync("/", Cancel));

        // The portal's own Tools page stops it.
        using (var stop = await SendAsync(client, HttpMethod.Post, "/api/v1/tools/sample/stop", portal, null))
            Assert.Equal(HttpStatusCode.OK, stop.StatusCode);
        Assert.Equal("Stopped", await StateWhenSettledAsync(client));
    }

    private static async Task<HttpResponseMessage> SendAsync(PortalClient client, HttpMethod method, string path, string origin, HttpContent? content)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.TryAddWithoutValidation("Origin", origin);
        return await client.Http.SendAsync(request, Cancel);
    }

    /// <summary>The sample tool's state once it is no longer spawning.</summary>
    private static async Task<string> StateWhenSettledAsync(PortalClient client)
    {
        while (true)
        {
            var tools = JsonDocument.Parse(await client.Http.GetStringAsync("/api/v1/tools", Cancel)).RootElement;
            var state = tools.EnumerateArray().Single(t => t.GetProperty("hostBasename").GetString() == "sample").GetProperty("state").GetString()!;
            if (state != "Spawning") return state;
            await Task.Delay(200, Cancel);
        }
    }
}
