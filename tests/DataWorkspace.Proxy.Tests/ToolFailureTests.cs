using System.Net;
using System.Security.Cryptography;
using System.Text;
using DataWorkspace.Contracts;
using DataWorkspace.Proxy.ClientAddress;
using DataWorkspace.Proxy.SignIn;
using DataWorkspace.Proxy.Tools;
using DataWorkspace.Security;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace DataWorkspace.Proxy.Tests;

/// <summary>
/// What a user sees when their tool fails under a request (found by bench/Faults): a tool whose process was killed
/// has stopped and is offered a restart at once, even when the request met the dead process on a kept-alive
/// connection; a tool that is still there, however slow or rude, is not reported stopped; and no request with a body
/// is sent to the tool a second time.
/// </summary>
public sealed class ToolFailureTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private static readonly PlatformUser Ann = new("ann-sub", "ann@partner.example", "Ann Lee", "Ann", "Lee", []);
    private static readonly PlatformIdentity AnnIdentity = new(Ann.Id, Ann.Email, Ann.Name, Ann.Roles, "127.0.0.1");
    private readonly IdentitySigningKey key = new(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
    private readonly Guid instanceId = Guid.NewGuid();

    private ToolHostName Name => new($"sample-{AnnIdentity.Hash}", "sample", AnnIdentity.Hash, null);

    private ToolEntry Entry(string webUrl)
    {
        var options = new ProxyOptions { RootDomain = "dataworkspace.localhost", WebUrl = webUrl, PublicScheme = "http" };
        var services = new ServiceCollection()
            .AddLogging()
            .AddMetrics()
            .AddOptions()
            .AddSingleton(new IdentityToken(key, TimeProvider.System))
            .AddSingleton(Options.Create(options))
            .AddSingleton(TimeProvider.System)
            .AddSingleton<SecurityRefusals>()
            .AddSingleton<IpPolicy>()
            .AddSingleton<ToolsClient>()
            .AddSingleton<ToolActivity>()
            // The visitor is let in already here: sign-in is never asked, so its session store never opens a database.
            .AddSingleton(_ => NpgsqlDataSource.Create("Host=127.0.0.1;Port=1"))
            .AddSingleton<IDataProtectionProvider>(new EphemeralDataProtectionProvider())
            .AddSingleton<DeactivatedUsers>()
            .AddSingleton<SessionStore>()
            .AddSingleton<ToolSignIn>()
            .AddSingleton<ToolEntry>();
        services.AddHttpForwarder();
        return services.BuildServiceProvider().GetRequiredService<ToolEntry>();
    }

    /// <summary>Ann's request to her running Sample app at <paramref name="tool"/>, as the tool entry forwards it once she is let in.</summary>
    private async Task<(int Status, string Page)> SendAsync(ToolEntry entry, StandInTool tool, string method, string? body = null)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Scheme = "http";
        context.Request.Host = new HostString($"{Name.Host}.dataworkspace.localhost", 8000);
        context.Request.Path = "/notebooks/analysis.ipynb";
        if (body is not null)
        {
            var bytes = Encoding.UTF8.GetBytes(body);
            context.Request.ContentType = "application/json";
            context.Request.ContentLength = bytes.Length;
            context.Request.Body = new MemoryStream(bytes);
        }

        context.Response.Body = new MemoryStream();
        var state = new ToolHostState(Name.Host, "Sample app", ToolInstanceState.Running, instanceId, tool.Address, null, null, null, null, DateTimeOffset.UtcNow, []);

        await entry.ForwardAsync(context, Name, new ToolEntry.Visitor(Ann, IPAddress.Loopback, AnnIdentity), state);

        context.Response.Body.Position = 0;
        return (context.Response.StatusCode, await new StreamReader(context.Response.Body).ReadToEndAsync(Cancel));
    }

    [Theory]
    [InlineData("GET", NextRequest.DieWithTheRequestUnread)]
    [InlineData("GET", NextRequest.DieAfterReadingIt)]
    [InlineData("POST", NextRequest.DieWithTheRequestUnread)]
    [InlineData("POST", NextRequest.DieAfterReadingIt)]
    public async Task A_tool_killed_under_a_kept_alive_connection_has_stopped_and_is_offered_a_restart_at_the_first_request(string method, NextRequest death)
    {
        await using var web = await StandInWebApp.StartAsync(key);
        await using var tool = new StandInTool();
        var entry = Entry(web.Url);
        Assert.Equal(StatusCodes.Status200OK, (await SendAsync(entry, tool, "GET")).Status);

        // Killed as the next request reaches it (a kill between requests is seen by the connection pool before reuse).
        tool.Next = death;
        var (status, page) = await SendAsync(entry, tool, method, method == "POST" ? """{"cell":1}""" : null);

        Assert.Equal(StatusCodes.Status502BadGateway, status);
        Assert.Contains("Your Sample app has stopped", page);
        Assert.Contains("Restart it", page);
        Assert.DoesNotContain("did not answer", page);
        var died = Assert.Single(web.Died);
        Assert.Equal((Name.Host, instanceId), (died.Host, died.Report.InstanceId));
        Assert.Equal("ConnectionRefused", died.Report.Reason);
        // The request met the dead process on the connection the first one used; a body reached it at most once.
        Assert.Equal(1, tool.Connections);
        Assert.True(tool.Received.Count(request => request.StartsWith("POST", StringComparison.Ordinal)) <= 1);
    }

    [Fact]
    public async Task A_POST_that_reached_a_tool_which_died_is_not_sent_again_to_the_tool_started_in_its_place()
    {
        await using var web = await StandInWebApp.StartAsync(key);
        await using var tool = new StandInTool();
        var entry = Entry(web.Url);
        Assert.Equal(StatusCodes.Status200OK, (await SendAsync(entry, tool, "GET")).Status);

        tool.Next = NextRequest.DieAfterReadingItAndStartAgain;
        var (status, page) = await SendAsync(entry, tool, "POST", """{"cell":1}""");

        // Something listens at the address again, so the tool is not reported stopped; the user decides whether to send it again.
        Assert.Equal(StatusCodes.Status502BadGateway, status);
        Assert.Contains("Your Sample app did not answer", page);
        Assert.Contains("Try again", page);
        Assert.Empty(web.Died);
        Assert.Equal(["POST /notebooks/analysis.ipynb HTTP/1.1\n{\"cell\":1}"], tool.Received.Where(request => request.StartsWith("POST", StringComparison.Ordinal)));
        Assert.Equal(0, tool.BytesToNextProcess);
    }

    [Fact]
    public async Task A_tool_that_is_alive_but_slow_gets_its_answer_through_and_is_not_reported_stopped()
    {
        await using var web = await StandInWebApp.StartAsync(key);
        await using var tool = new StandInTool();
        var entry = Entry(web.Url);
        Assert.Equal(StatusCodes.Status200OK, (await SendAsync(entry, tool, "GET")).Status);

        tool.Next = NextRequest.AnswerAfterAPause;
        var (status, page) = await SendAsync(entry, tool, "GET");

        Assert.Equal(StatusCodes.Status200OK, status);
        Assert.Equal("The tool's page, request 2", page);
        Assert.Empty(web.Died);
        Assert.Equal(2, tool.Received.Count);
    }

    [Fact]
    public async Task A_tool_that_drops_a_request_but_still_listens_did_not_answer_and_is_not_reported_stopped()
    {
        await using var web = await StandInWebApp.StartAsync(key);
        await using var tool = new StandInTool();
        var entry = Entry(web.Url);
        Assert.Equal(StatusCodes.Status200OK, (await SendAsync(entry, tool, "GET")).Status);

        tool.Next = NextRequest.ResetButKeepListening;
        var (status, page) = await SendAsync(entry, tool, "GET");

        Assert.Equal(StatusCodes.Status502BadGateway, status);
        Assert.Contains("Your Sample app did not answer", page);
        Assert.Contains("ConnectionReset", page);
        Assert.Contains("Try again", page);
        Assert.Empty(web.Died);

        // It answers the next request as ever.
        tool.Next = NextRequest.Answer;
        Assert.Equal(StatusCodes.Status200OK, (await SendAsync(entry, tool, "GET")).Status);
    }
}
