using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;

namespace DataWorkspace.Sidecars.Tests;

/// <summary>The healthcheck server an uptime monitor calls: /check follows the portal's health endpoint, /check_alb answers while it runs.</summary>
public sealed class HealthcheckServerTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Check_answers_200_when_the_portal_is_healthy_and_503_when_it_fails_or_does_not_answer()
    {
        var portal = Loopback();
        // The "portal" is another healthcheck server: its /check_alb is a healthy endpoint, an unknown path a failing one.
        using var portalHost = HealthcheckServerCommand.Build(portal, new Uri("http://127.0.0.1:1/"), TimeSpan.FromSeconds(5));
        await portalHost.StartAsync(Cancellation);
        using var http = new HttpClient();

        async Task<(HttpStatusCode, string)> CheckAsync(string portalPath)
        {
            var listen = Loopback();
            using var host = HealthcheckServerCommand.Build(listen, new Uri($"http://{portal}{portalPath}"), TimeSpan.FromSeconds(5));
            await host.StartAsync(Cancellation);
            using var response = await http.GetAsync($"http://{listen}/check", Cancellation);
            var body = await response.Content.ReadAsStringAsync(Cancellation);
            await host.StopAsync(Cancellation);
            return (response.StatusCode, body);
        }

        Assert.Equal((HttpStatusCode.OK, "OK"), await CheckAsync("/check_alb"));
        Assert.Equal((HttpStatusCode.ServiceUnavailable, "The portal answered 404"), await CheckAsync("/not-a-health-endpoint"));
        await portalHost.StopAsync(Cancellation);
        Assert.Equal((HttpStatusCode.ServiceUnavailable, "The portal did not answer"), await CheckAsync("/check_alb"));
    }

    [Fact]
    public async Task Check_alb_answers_200_whatever_the_portal_says()
    {
        var listen = Loopback();
        using var host = HealthcheckServerCommand.Build(listen, new Uri("http://127.0.0.1:1/health"), TimeSpan.FromSeconds(5));
        await host.StartAsync(Cancellation);
        using var http = new HttpClient();
        using var response = await http.GetAsync($"http://{listen}/check_alb", Cancellation);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("OK", await response.Content.ReadAsStringAsync(Cancellation));
    }

    private static IPEndPoint Loopback()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return (IPEndPoint)listener.LocalEndpoint;
    }
}
