using System.Net;
using System.Security.Cryptography;
using System.Text;
using DataWorkspace.Contracts;
using DataWorkspace.Proxy.Forwarding;
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
/// What the proxy answers when forwarding to the web app goes wrong because of the request itself (found by
/// bench/Fuzz): the client's fault is a 4xx, never a 5xx that says the web app is down.
/// </summary>
public sealed class PortalForwardingTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>A web app that answers the machine API's path (forwarded without a session) with what it was sent.</summary>
    private static async Task<WebApplication> EchoWebAppAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{Ports.Free()}");
        var app = builder.Build();
        app.MapPost(PortalEntry.MachineApiPrefix + "/echo", async (HttpRequest request) =>
        {
            var length = 0L;
            var buffer = new byte[8192];
            for (int read; (read = await request.Body.ReadAsync(buffer)) > 0;) length += read;
            return Results.Text($"{request.Headers["X-Name"]} {length}");
        });
        await app.StartAsync(Cancel);
        return app;
    }

    private static (PortalEntry Entry, IServiceProvider Services) Entry(string webUrl)
    {
        var options = new ProxyOptions { RootDomain = "dataworkspace.localhost", WebUrl = webUrl };
        var services = new ServiceCollection()
            .AddLogging()
            .AddMetrics()
            .AddSingleton(new IdentityToken(new IdentitySigningKey(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))), TimeProvider.System))
            .AddSingleton(Options.Create(options))
            .AddSingleton(TimeProvider.System)
            .AddSingleton<SecurityRefusals>()
            .AddSingleton<DeactivatedUsers>()
            .AddSingleton<AccountsClient>()
            .AddSingleton<ApiTokenSignIn>()
            .AddSingleton<DataWorkspace.Proxy.ClientAddress.IpPolicy>()
            .AddSingleton(_ => PortalEntry.CreateWebClient())
            .AddSingleton<PortalEntry>();
        services.AddHttpForwarder();
        var provider = services.BuildServiceProvider();
        return (provider.GetRequiredService<PortalEntry>(), provider);
    }

    private static DefaultHttpContext Request(IServiceProvider services, Stream body)
    {
        var context = new DefaultHttpContext { RequestServices = services };
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        context.Request.Method = HttpMethods.Post;
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("dataworkspace.localhost");
        context.Request.Path = PortalEntry.MachineApiPrefix + "/echo";
        context.Request.Headers.TransferEncoding = "chunked";
        context.Request.Body = body;
        context.Response.Body = new MemoryStream();
        return context;
    }

    private static string Body(HttpContext context)
    {
        context.Response.Body.Position = 0;
        return new StreamReader(context.Response.Body).ReadToEnd();
    }

    [Fact]
    public async Task A_header_in_UTF_8_reaches_the_web_app_as_sent_not_a_page_saying_it_is_restarting()
    {
        await using var web = await EchoWebAppAsync();
        var (entry, services) = Entry(web.Urls.Single());
        var context = Request(services, new MemoryStream("hello"u8.ToArray()));
        context.Request.Headers["X-Name"] = "Zoë Ångström";

        await entry.HandleAsync(context);

        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
        Assert.Equal("Zoë Ångström 5", Body(context));
    }

    [Fact]
    public async Task A_body_the_client_breaks_off_is_a_bad_request_not_a_bad_gateway()
    {
        await using var web = await EchoWebAppAsync();
        var (entry, services) = Entry(web.Urls.Single());
        var context = Request(services, new BrokenBody(new BadHttpRequestException("Bad chunked request line.", StatusCodes.Status400BadRequest)));

        await entry.HandleAsync(context);

        Assert.Equal(StatusCodes.Status400BadRequest, context.Response.StatusCode);
        Assert.Contains("could not be read", Body(context));
    }

    [Fact]
    public async Task A_body_over_the_proxys_limit_is_too_large_not_a_bad_gateway()
    {
        await using var web = await EchoWebAppAsync();
        var (entry, services) = Entry(web.Urls.Single());
        var context = Request(services, new BrokenBody(new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge)));

        await entry.HandleAsync(context);

        Assert.Equal(StatusCodes.Status413PayloadTooLarge, context.Response.StatusCode);
        Assert.Contains("larger than the portal takes", Body(context));
    }

    [Fact]
    public async Task A_CONNECT_is_not_allowed_rather_than_a_bad_gateway()
    {
        await using var web = await EchoWebAppAsync();
        var (entry, services) = Entry(web.Urls.Single());
        var context = Request(services, new MemoryStream());
        context.Request.Method = HttpMethods.Connect;
        context.Request.Headers.TransferEncoding = default;

        await entry.HandleAsync(context);

        Assert.Equal(StatusCodes.Status405MethodNotAllowed, context.Response.StatusCode);
        Assert.Contains("not a forward proxy", Body(context));
    }

    /// <summary>A request body as Kestrel gives it when the client's bytes are wrong: some data, then the error.</summary>
    private sealed class BrokenBody(Exception error) : Stream
    {
        private bool sent;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            // The forwarder asks for nothing first, to wait until there is something to read.
            if (buffer.IsEmpty) return ValueTask.FromResult(0);
            if (sent) throw error;
            sent = true;
            buffer.Span[0] = (byte)'{';
            return ValueTask.FromResult(1);
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
