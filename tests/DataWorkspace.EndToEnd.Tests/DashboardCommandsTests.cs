using System.Net;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// The Aspire dashboard's commands on the web resource, executed as the dashboard does, against the running platform;
/// and their API out of reach from the portal's public address.
/// </summary>
public sealed class DashboardCommandsTests(PlatformFixture fixture)
{
    private RunningPlatform Platform => fixture.Platform;
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private Task<ExecuteCommandResult> ExecuteAsync(string command)
    {
        var web = Platform.App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(resource => resource.Name == "web");
        return Platform.App.Services.GetRequiredService<ResourceCommandService>().ExecuteCommandAsync(web, command, Cancel);
    }

    [Fact]
    public async Task Each_command_on_the_web_resource_does_its_work_and_says_what_it_did()
    {
        var sync = await ExecuteAsync("run-permission-sync");
        Assert.True(sync.Success, sync.Message);
        Assert.StartsWith("Database roles and grants synchronised with the catalogue:", sync.Message);

        var cull = await ExecuteAsync("cull-idle-tools");
        Assert.True(cull.Success, cull.Message);
        Assert.Matches("^(No tool was idle|Stopped [0-9]+ tool)", cull.Message);

        // The platform started with the demo data, so a reload finds every demo dataset there.
        var demo = await ExecuteAsync("reload-demo-data");
        Assert.True(demo.Success, demo.Message);
        Assert.Equal("The demo datasets were all there: nothing added; emptied demo tables were filled again.", demo.Message);
    }

    [Fact]
    public async Task The_operations_api_is_not_reachable_through_the_proxy_even_with_the_key()
    {
        var key = File.ReadAllText(Path.Combine(Platform.DataDirectory, "secrets", "operations-key")).Trim();
        using var client = Platform.Client(followRedirects: false);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/internal/v1/operations/permission-sync") { Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);

        using var response = await client.Http.SendAsync(request, Cancel);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
