using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Sidecars;

/// <summary>
/// The platform's small built-in sample tool: a web server that greets the signed-in user and echoes requests and
/// WebSocket messages. Tool launching runs it as a local process; the proxy's end-to-end tests and benchmarks forward to it.
/// </summary>
public static class SampleApp
{
    public const long MaxBytesResponseLength = 1L << 30;
    public const int MaxWebSocketMessageLength = 16 * 1024 * 1024;

    // The names the proxy sets (DataWorkspace.Contracts.IdentityHeaders), repeated so the sidecar needs none of the platform's services.
    private const string UserNameHeader = "X-DataWorkspace-User-Name";
    private const string UserEmailHeader = "X-DataWorkspace-User-Email";
    private const string UserIdHeader = "X-DataWorkspace-User-Id";

    private static readonly byte[] Filler = new byte[64 * 1024];

    /// <summary>The sample app, configured to listen on http://<paramref name="host"/>:<paramref name="port"/> and not yet started.</summary>
    /// <param name="host">An IP address, or <c>localhost</c>.</param>
    public static WebApplication Build(string host, int port)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // The proxy's tests send multi-gigabyte bodies to /echo.
            kestrel.Limits.MaxRequestBodySize = null;
            if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
                kestrel.ListenLocalhost(port);
            else
                kestrel.Listen(IPAddress.Parse(host), port);
        });

        var app = builder.Build();
        app.UseWebSockets();
        app.MapGet("/", Greeting);
        app.MapGet("/health", () => TypedResults.Text("ok"));
        app.Map("/echo/{**rest}", EchoAsync);
        app.MapGet("/bytes/{count}", WriteBytesAsync);
        app.MapGet("/cookies/set", SetCookie);
        app.Map("/ws", EchoWebSocketAsync);
        return app;
    }

    public static bool IsListenableHost(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || IPAddress.TryParse(host, out _);

    /// <summary>The address as a browser would write it, e.g. http://127.0.0.1:8888 or http://[::1]:8888.</summary>
    public static string Address(string host, int port) =>
        $"http://{(host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host)}:{port}";

    private static ContentHttpResult Greeting(HttpRequest request)
    {
        var name = request.Headers[UserNameHeader].ToString();
        var email = request.Headers[UserEmailHeader].ToString();
        var userId = request.Headers[UserIdHeader].ToString();
        var encoder = HtmlEncoder.Default;
        var identity = name.Length == 0 && email.Length == 0 && userId.Length == 0
            ? "<p>This request has no identity headers, so it did not come through the Data Workspace proxy.</p>"
            : $"""
              <p>Hello, {encoder.Encode(name.Length > 0 ? name : email)}.</p>
              <dl>
                <dt>Email</dt><dd>{encoder.Encode(email)}</dd>
                <dt>User id</dt><dd>{encoder.Encode(userId)}</dd>
              </dl>
              """;
        return TypedResults.Content($"""
            <!doctype html>
            <html lang="en">
            <head><meta charset="utf-8"><title>Sample app</title></head>
            <body>
            <h1>Sample app</h1>
            {identity}
            </body>
            </html>
            """, "text/html; charset=utf-8");
    }

    private static async Task EchoAsync(HttpContext context)
    {
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var bodyLength = 0L;
        var body = context.Request.BodyReader;
        while (true)
        {
            var read = await body.ReadAsync(context.RequestAborted);
            foreach (var segment in read.Buffer)
                sha256.AppendData(segment.Span);
            bodyLength += read.Buffer.Length;
            body.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted) break;
        }

        var headers = new Dictionary<string, string>(context.Request.Headers.Count);
        foreach (var (name, values) in context.Request.Headers)
            headers[name] = string.Join(", ", values.ToArray());

        context.Response.Headers["X-Sample-Echo"] = "1";
        var echoed = new EchoedRequest(context.Request.Method, PathAsSent(context),
            context.Request.QueryString.Value ?? "", headers, bodyLength, Convert.ToHexStringLower(sha256.GetHashAndReset()));
        await context.Response.WriteAsJsonAsync(echoed, SampleAppJson.Default.EchoedRequest, cancellationToken: context.RequestAborted);
    }

    // Percent-encoding kept as the client sent it, so the proxy's tests can see exactly what was forwarded.
    private static string PathAsSent(HttpContext context)
    {
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(target) || target[0] != '/')
            return (context.Request.PathBase + context.Request.Path).ToUriComponent();
        var queryStart = target.IndexOf('?');
        return queryStart < 0 ? target : target[..queryStart];
    }

    private static async Task WriteBytesAsync(HttpContext context)
    {
        var response = context.Response;
        if (!long.TryParse(context.Request.RouteValues["count"] as string, NumberStyles.None, CultureInfo.InvariantCulture, out var remaining)
            || remaining > MaxBytesResponseLength)
        {
            response.StatusCode = StatusCodes.Status400BadRequest;
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync($"/bytes/{{n}} takes a whole number of bytes from 0 to {MaxBytesResponseLength}.", context.RequestAborted);
            return;
        }

        response.ContentType = "application/octet-stream";
        response.ContentLength = remaining;
        var writer = response.BodyWriter;
        while (remaining > 0)
        {
            var chunk = (int)Math.Min(remaining, Filler.Length);
            writer.Write(Filler.AsSpan(0, chunk));
            remaining -= chunk;
            // A body writer's bytes go out only when flushed; a 1 KB answer's one flush normally completes at once, allocating nothing.
            if ((await writer.FlushAsync(context.RequestAborted)).IsCompleted) return;
        }
    }

    private static ContentHttpResult SetCookie(HttpResponse response, string? name, string? value, string? domain)
    {
        if (string.IsNullOrEmpty(name))
            return TypedResults.Text("/cookies/set needs a name, e.g. /cookies/set?name=flavour&value=oat&domain=example.com", statusCode: StatusCodes.Status400BadRequest);
        response.Cookies.Append(name, value ?? "", new CookieOptions { Domain = string.IsNullOrEmpty(domain) ? null : domain, Path = "/" });
        return TypedResults.Text("set");
    }

    private static async Task EchoWebSocketAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync("/ws takes WebSocket connections only; this request did not ask to upgrade to a WebSocket.", context.RequestAborted);
            return;
        }

        var subProtocol = context.WebSockets.WebSocketRequestedProtocols is [var first, ..] ? first : null;
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { SubProtocol = subProtocol });
        var cancellationToken = context.RequestAborted;
        var message = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            var length = 0;
            while (true)
            {
                if (length == message.Length)
                {
                    if (length >= MaxWebSocketMessageLength)
                    {
                        await socket.CloseAsync(WebSocketCloseStatus.MessageTooBig, $"Messages are limited to {MaxWebSocketMessageLength} bytes.", cancellationToken);
                        return;
                    }
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(length * 2, MaxWebSocketMessageLength));
                    message.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(message);
                    message = larger;
                }

                var space = Math.Min(message.Length, MaxWebSocketMessageLength) - length;
                var received = await socket.ReceiveAsync(message.AsMemory(length, space), cancellationToken);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(socket.CloseStatus ?? WebSocketCloseStatus.Empty, socket.CloseStatusDescription, cancellationToken);
                    return;
                }
                length += received.Count;
                if (!received.EndOfMessage) continue;

                // Whole messages go back only once received, so a client that sends before it reads cannot deadlock with us.
                await socket.SendAsync(message.AsMemory(0, length), received.MessageType, endOfMessage: true, cancellationToken);
                length = 0;
            }
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
        {
            // The client went away without a close handshake; there is no one left to tell.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(message);
        }
    }
}

/// <summary>What <c>/echo</c> answers: the request as the sample app received it.</summary>
/// <param name="Path">The path as the client sent it, percent-encoding included.</param>
/// <param name="Query">The query string as sent, with its leading <c>?</c>; empty when there is none.</param>
/// <param name="Headers">Each header once, its values joined with ", ".</param>
/// <param name="BodySha256">The body's SHA-256 in lowercase hexadecimal.</param>
public sealed record EchoedRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, long BodyLength, string BodySha256);

[JsonSerializable(typeof(EchoedRequest))]
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
internal sealed partial class SampleAppJson : JsonSerializerContext;
