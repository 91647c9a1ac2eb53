using System.Net;
using DataWorkspace.Contracts;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// A user's files from their tool, on the platform as the AppHost starts it: a Python tool with boto3, opened through
/// the proxy, reads and writes its home folder in the local files bucket and is refused another user's.
/// </summary>
public sealed class ToolFilesThroughProxyTests(PlatformFixture fixture)
{
    private RunningPlatform Platform => fixture.Platform;
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_tool_keeps_files_in_its_home_folder_and_cannot_list_another_users()
    {
        using var client = Platform.Client();
        await client.SignInAsync("priya.shah@trade.example", cancellationToken: Cancel);
        var id = (await Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", "priya.shah@trade.example"))!;
        await Platform.CatalogueScalarAsync<object>(
            "INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test') ON CONFLICT DO NOTHING", id);
        var hash = UserHash.Of(id);
        var tool = new Uri($"http://files-{hash}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/");

        // Another user's file, put straight into the emulator (which checks no signature).
        var theirs = "home/0badc0de/";
        using (var emulator = new HttpClient())
        using (var planted = await emulator.PutAsync(new Uri(Platform.App.GetEndpoint("aws", "http"), "dataworkspace-local/" + theirs + "secret.txt"), new StringContent("theirs"), Cancel))
            Assert.Equal(HttpStatusCode.OK, planted.StatusCode);

        // The first visit starts the tool (a progress page, 202) until it answers itself.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var response = await client.Http.GetAsync(tool, Cancel);
            if (response.StatusCode == HttpStatusCode.OK) break;
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            Assert.True(DateTime.UtcNow < deadline, "the files tool did not start within 60 s");
            await Task.Delay(250, Cancel);
        }

        var home = $"home/{hash}/";
        var put = await S3Tool.AskAsync(client.Http, tool, "put", Cancel, ("key", home + "through-the-proxy.txt"), ("body", "kept"));
        Assert.True(put.Ok, put.ToString());
        Assert.Equal("kept", (await S3Tool.AskAsync(client.Http, tool, "get", Cancel, ("key", home + "through-the-proxy.txt"))).Body);
        Assert.Equal([home + "through-the-proxy.txt"], (await S3Tool.AskAsync(client.Http, tool, "list", Cancel, ("prefix", home))).Keys);

        var listed = await S3Tool.AskAsync(client.Http, tool, "list", Cancel, ("prefix", theirs));
        Assert.Equal("AccessDenied", listed.Error);
        Assert.Equal("AccessDenied", (await S3Tool.AskAsync(client.Http, tool, "get", Cancel, ("key", theirs + "secret.txt"))).Error);
    }
}
