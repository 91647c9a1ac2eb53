using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using DataWorkspace.TestSupport;
using Microsoft.AspNetCore.Builder;

namespace DataWorkspace.Sidecars.Tests;

/// <summary>Runs the sample tool for real on a loopback port and uses it as the proxy, a browser and the benchmarks do.</summary>
public sealed class SampleAppTests : IAsyncLifetime
{
    private readonly int port = Ports.Free();
    private WebApplication app = null!;
    private HttpClient http = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        app = SampleApp.Build("127.0.0.1", port);
        await app.StartAsync(Cancellation);
        // The tests read Set-Cookie themselves, so the client must not consume it.
        http = new HttpClient(new SocketsHttpHandler { UseCookies = false })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}"),
            Timeout = TimeSpan.FromSeconds(60),
        };
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }

    [Fact]
    public async Task The_home_page_greets_the_user_named_by_the_proxy_with_the_name_html_encoded()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-DataWorkspace-User-Name", "Ada <script>alert('hi')</script> & co");
        request.Headers.Add("X-DataWorkspace-User-Email", "ada@trade.example");
        request.Headers.Add("X-DataWorkspace-User-Id", "7c0e6f7a-0d7e-4c58-9a59-6f0d3c3b9a11");

        using var response = await http.SendAsync(request, Cancellation);
        var page = await response.Content.ReadAsStringAsync(Cancellation);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<title>Sample app</title>", page);
        Assert.Contains("Hello, Ada &lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt; &amp; co.", page);
        Assert.DoesNotContain("<script>", page);
        Assert.Contains("ada@trade.example", page);
        Assert.Contains("7c0e6f7a-0d7e-4c58-9a59-6f0d3c3b9a11", page);
    }

    [Fact]
    public async Task The_home_page_says_when_a_request_has_no_identity_headers()
    {
        var page = await http.GetStringAsync("/", Cancellation);

        Assert.Contains("no identity headers", page);
        Assert.DoesNotContain("Hello", page);
    }

    [Fact]
    public async Task Echo_reports_the_method_path_headers_and_the_hash_of_a_streamed_120_KB_body()
    {
        var body = new byte[120 * 1024];
        new Random(120).NextBytes(body);
        using var request = new HttpRequestMessage(HttpMethod.Patch, "/echo/reports/2026?kind=trade%20flows&page=2")
        {
            Content = new PiecewiseContent(body),
        };
        request.Headers.Add("X-Tool-Tag", ["blue", "green"]);

        using var response = await http.SendAsync(request, Cancellation);
        using var echoed = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancellation));
        var root = echoed.RootElement;
        var headers = root.GetProperty("headers").EnumerateObject()
            .ToDictionary(header => header.Name, header => header.Value.GetString(), StringComparer.OrdinalIgnoreCase);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("1", Assert.Single(response.Headers.GetValues("X-Sample-Echo")));
        Assert.Equal("PATCH", root.GetProperty("method").GetString());
        Assert.Equal("/echo/reports/2026", root.GetProperty("path").GetString());
        Assert.Equal("?kind=trade%20flows&page=2", root.GetProperty("query").GetString());
        Assert.Equal("chunked", headers["Transfer-Encoding"]);
        Assert.DoesNotContain("Content-Length", headers.Keys);
        Assert.Equal("blue, green", headers["X-Tool-Tag"]);
        Assert.Equal(body.Length, root.GetProperty("bodyLength").GetInt64());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(body)), root.GetProperty("bodySha256").GetString());
    }

    [Fact]
    public async Task Echo_answers_any_method_at_its_own_address_too()
    {
        using var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod("PROPFIND"), "/echo"), Cancellation);
        using var echoed = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancellation));

        Assert.Equal("PROPFIND", echoed.RootElement.GetProperty("method").GetString());
        Assert.Equal("/echo", echoed.RootElement.GetProperty("path").GetString());
        Assert.Equal(0, echoed.RootElement.GetProperty("bodyLength").GetInt64());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData([])), echoed.RootElement.GetProperty("bodySha256").GetString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1024)]
    [InlineData(1_000_000)]
    public async Task Bytes_answers_exactly_the_number_asked_for_with_a_content_length(int count)
    {
        using var response = await http.GetAsync($"/bytes/{count}", Cancellation);
        var bytes = await response.Content.ReadAsByteArrayAsync(Cancellation);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(count, response.Content.Headers.ContentLength);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(count, bytes.Length);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1073741825")]
    [InlineData("lots")]
    public async Task Bytes_refuses_a_count_outside_0_to_1_GB_with_a_message(string count)
    {
        using var response = await http.GetAsync($"/bytes/{count}", Cancellation);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("from 0 to 1073741824", await response.Content.ReadAsStringAsync(Cancellation));
    }

    [Fact]
    public async Task Cookies_set_sets_the_named_cookie_for_the_given_domain()
    {
        using var response = await http.GetAsync("/cookies/set?name=session&value=abc123&domain=other.example", Cancellation);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("set", await response.Content.ReadAsStringAsync(Cancellation));
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("session=abc123;", cookie);
        Assert.Contains("domain=other.example", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/", cookie, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_websocket_echoes_text_and_binary_messages_with_the_requested_subprotocol_and_the_clients_close_status()
    {
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("dataworkspace.echo");
        socket.Options.AddSubProtocol("fallback.echo");
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), Cancellation);

        await socket.SendAsync("hello, sample app"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, Cancellation);
        var text = await ReceiveMessageAsync(socket);
        byte[] binary = [0, 1, 0, 0, 255, 0, 42, 0];
        await socket.SendAsync(binary.AsMemory(0, 3), WebSocketMessageType.Binary, endOfMessage: false, Cancellation);
        await socket.SendAsync(binary.AsMemory(3), WebSocketMessageType.Binary, endOfMessage: true, Cancellation);
        var binaryEcho = await ReceiveMessageAsync(socket);
        await socket.CloseAsync((WebSocketCloseStatus)4001, "done here", Cancellation);

        Assert.Equal("dataworkspace.echo", socket.SubProtocol);
        Assert.Equal(WebSocketMessageType.Text, text.Type);
        Assert.Equal("hello, sample app", Encoding.UTF8.GetString(text.Message));
        Assert.Equal(WebSocketMessageType.Binary, binaryEcho.Type);
        Assert.Equal(binary, binaryEcho.Message);
        Assert.Equal((WebSocketCloseStatus)4001, socket.CloseStatus);
        Assert.Equal("done here", socket.CloseStatusDescription);
    }

    [Fact]
    public async Task A_16_MB_websocket_message_sent_in_frames_before_any_reading_comes_back_whole()
    {
        var message = new byte[SampleApp.MaxWebSocketMessageLength];
        new Random(16).NextBytes(message);
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), Cancellation);

        const int frame = 1024 * 1024;
        for (var offset = 0; offset < message.Length; offset += frame)
            await socket.SendAsync(message.AsMemory(offset, frame), WebSocketMessageType.Binary, endOfMessage: offset + frame == message.Length, Cancellation);
        var echo = await ReceiveMessageAsync(socket);

        Assert.Null(socket.SubProtocol);
        Assert.Equal(WebSocketMessageType.Binary, echo.Type);
        Assert.True(message.AsSpan().SequenceEqual(echo.Message), "the echoed 16 MB message differs from the one sent");
    }

    [Fact]
    public async Task A_websocket_message_over_16_MB_closes_the_connection_as_too_big()
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), Cancellation);

        await socket.SendAsync(new byte[SampleApp.MaxWebSocketMessageLength + 1], WebSocketMessageType.Binary, endOfMessage: true, Cancellation);
        var answer = await ReceiveMessageAsync(socket);

        Assert.Equal(WebSocketMessageType.Close, answer.Type);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, socket.CloseStatus);
    }

    [Fact]
    public async Task The_websocket_address_refuses_a_plain_request_with_a_message()
    {
        using var response = await http.GetAsync("/ws", Cancellation);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("WebSocket connections only", await response.Content.ReadAsStringAsync(Cancellation));
    }

    [Fact]
    public async Task The_command_listens_on_the_given_port_says_so_and_answers_health_checks()
    {
        var commandPort = Ports.Free();
        using var process = StartSidecar(environmentPort: commandPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "sample-app");
        try
        {
            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
            waiting.CancelAfter(TimeSpan.FromSeconds(30));
            var firstLine = await process.StandardOutput.ReadLineAsync(waiting.Token);
            var health = await http.GetStringAsync($"http://127.0.0.1:{commandPort}/health", Cancellation);

            Assert.Equal($"Sample app listening on http://127.0.0.1:{commandPort}", firstLine);
            Assert.Equal("ok", health);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task The_command_without_a_port_exits_with_a_message_saying_how_to_give_one()
    {
        using var process = StartSidecar(environmentPort: null, "sample-app");
        var output = process.StandardOutput.ReadToEndAsync(Cancellation);
        var error = process.StandardError.ReadToEndAsync(Cancellation);
        await process.WaitForExitAsync(Cancellation);

        Assert.Equal(SampleAppCommand.NoPortExitCode, process.ExitCode);
        Assert.Contains("pass --port N or set the PORT environment variable", await output + await error);
    }

    private static Process StartSidecar(string? environmentPort, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "dataworkspace-sidecar.dll"), .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment.Remove("PORT");
        if (environmentPort is not null) start.Environment["PORT"] = environmentPort;
        return Process.Start(start)!;
    }

    private static async Task<(WebSocketMessageType Type, byte[] Message)> ReceiveMessageAsync(WebSocket socket)
    {
        using var message = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer.AsMemory(), Cancellation);
            message.Write(buffer, 0, received.Count);
            if (received.EndOfMessage) return (received.MessageType, message.ToArray());
        }
    }

    /// <summary>A body written in 8 KB pieces with no length given, so it travels chunked like a streamed upload.</summary>
    private sealed class PiecewiseContent(byte[] body) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            for (var offset = 0; offset < body.Length; offset += 8192)
            {
                await stream.WriteAsync(body.AsMemory(offset, Math.Min(8192, body.Length - offset)), cancellationToken);
                await stream.FlushAsync(cancellationToken);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
