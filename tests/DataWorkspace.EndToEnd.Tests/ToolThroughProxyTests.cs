using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using DataWorkspace.Contracts;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// A user's tool through the real proxy, after a real OpenID Connect sign-in: the Local launcher runs the built-in
/// sample app as a process, and every request goes browser-path (client -> proxy -> tool).
/// </summary>
public sealed class ToolThroughProxyTests(PlatformFixture fixture)
{
    private RunningPlatform Platform => fixture.Platform;
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private async Task<(PortalClient Client, string Hash)> SignedInWithToolsAsync(string email)
    {
        var client = Platform.Client();
        await client.SignInAsync(email, cancellationToken: Cancel);
        var id = (await Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", email))!;
        await Platform.CatalogueScalarAsync<object>(
            "INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test') ON CONFLICT DO NOTHING", id);
        return (client, UserHash.Of(id));
    }

    private Uri ToolUrl(string hash, string path = "/") => new($"http://sample-{hash}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}{path}");

    /// <summary>Follows the progress page's event stream until the tool is ready; returns the events seen.</summary>
    private static async Task<List<string>> FollowProgressAsync(PortalClient client, Uri toolUrl, string page)
    {
        var since = WebUtility.HtmlDecode(page[(page.IndexOf("data-state=\"", StringComparison.Ordinal) + 12)..]);
        since = JsonDocument.Parse(since[..since.IndexOf("\">", StringComparison.Ordinal)]).RootElement.GetProperty("version").GetString()!;
        var events = new List<string>();
        using var stream = await client.Http.GetStreamAsync(new Uri(toolUrl, $"/_dataworkspace/events?since={Uri.EscapeDataString(since)}"), Cancel);
        using var reader = new StreamReader(stream);
        while (await reader.ReadLineAsync(Cancel) is { } line)
        {
            if (!line.StartsWith("event: ", StringComparison.Ordinal)) continue;
            events.Add(line[7..]);
            if (line is "event: ready") break;
            if (line is "event: failed")
            {
                events.Add(await reader.ReadLineAsync(Cancel) ?? "");
                break;
            }
        }

        return events;
    }

    [Fact]
    public async Task Launch_progress_echo_streaming_websockets_and_a_restart_after_the_tool_dies()
    {
        var (client, hash) = await SignedInWithToolsAsync("tom.evans@partner.example");
        using var _ = client;
        var toolUrl = ToolUrl(hash);

        // The first visit starts the tool and shows its progress; the page's event stream says when it is ready.
        var clock = Stopwatch.StartNew();
        using (var first = await client.Http.GetAsync(toolUrl, Cancel))
        {
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
            var page = await first.Content.ReadAsStringAsync(Cancel);
            Assert.Contains("Starting your Sample app", page);
            var events = await FollowProgressAsync(client, toolUrl, page);
            Assert.True(events[^1] == "ready", string.Join('\n', events));
        }

        var home = await client.Http.GetStringAsync(toolUrl, Cancel);
        Assert.Contains("Tom Evans", home);
        TestContext.Current.SendDiagnosticMessage($"Sample app ready through the proxy after {clock.ElapsedMilliseconds} ms");

        // Client-sent identity headers are replaced by the proxy's; the session cookie never reaches the tool.
        using (var forged = new HttpRequestMessage(HttpMethod.Get, new Uri(toolUrl, "/echo/path?x=1")))
        {
            forged.Headers.TryAddWithoutValidation(IdentityHeaders.UserEmail, "mallory@evil.example");
            forged.Headers.TryAddWithoutValidation(IdentityHeaders.SsoEmail, "mallory@evil.example");
            forged.Headers.TryAddWithoutValidation("sso_profile_email", "mallory@evil.example");
            forged.Headers.TryAddWithoutValidation("X-Custom", "kept");
            // What RStudio Server, Grafana and others can be configured to trust as the signed-in user.
            foreach (var header in new[] { "X-Forwarded-User", "X-Forwarded-Email", "X-Auth-Request-User", "X-Auth-Request-Email", "Remote-User", "X-Remote-User", "x_forwarded_user", "remote_user" })
                forged.Headers.TryAddWithoutValidation(header, "mallory@evil.example");
            using var response = await client.Http.SendAsync(forged, Cancel);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("1", response.Headers.GetValues("X-Sample-Echo").Single());
            var echo = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel)).RootElement;
            var headers = echo.GetProperty("headers").EnumerateObject().ToDictionary(h => h.Name.ToLowerInvariant(), h => h.Value.GetString());
            Assert.Equal("tom.evans@partner.example", headers["x-dataworkspace-user-email"]);
            Assert.Equal("tom.evans@partner.example", headers["sso-profile-email"]);
            Assert.Equal("kept", headers["x-custom"]);
            Assert.DoesNotContain("mallory@evil.example", headers.Values);
            Assert.DoesNotContain("dw_session", headers.GetValueOrDefault("cookie") ?? "");
            Assert.False(headers.ContainsKey("x-dataworkspace-identity"));
            Assert.Equal("/echo/path", echo.GetProperty("path").GetString());
        }

        // The platform's sign-in paths are the portal's: on a tool's host they are the tool's own (the sample app has no
        // such page, so it answers 404 itself), not the platform's sign-in flow failing with its error page.
        using (var callback = await client.Http.GetAsync(new Uri(toolUrl, "/auth/callback?code=abc&state=def"), Cancel))
        {
            Assert.Equal(HttpStatusCode.NotFound, callback.StatusCode);
            Assert.DoesNotContain("Sign-in did not complete", await callback.Content.ReadAsStringAsync(Cancel));
        }

        // Another port of the tool's machine is reachable only if the template offers it: this one is listening, but not offered.
        var listening = new Uri((await Platform.CatalogueScalarAsync<string>(
            "SELECT address FROM tool_instances WHERE host = $1 AND state = 'Running'", $"sample-{hash}"))!).Port;
        using (var otherPort = await client.Http.GetAsync(new Uri($"http://sample-{hash}--{listening}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/"), Cancel))
        {
            Assert.Equal(HttpStatusCode.NotFound, otherPort.StatusCode);
            Assert.Contains($"does not offer port {listening}", await otherPort.Content.ReadAsStringAsync(Cancel));
        }

        // The proxy's metrics count the tool's requests as served requests, and its calls to the web app as client
        // calls; a tool's own address never becomes a series (each started tool would add new ones for ever).
        using (var operatorClient = new HttpClient())
        {
            var exposition = await operatorClient.GetStringAsync($"http://127.0.0.1:{Platform.PortalUrl.Port}/metrics", Cancel);
            Assert.Contains("http_server_request_duration_seconds_count", exposition);
            Assert.Contains("http_client_request_duration_seconds_count", exposition);
            Assert.DoesNotContain($"server_port=\"{listening}\"", exposition);
        }

        // A client that gives up mid-request (a closed tab) leaves the tool running.
        using (var giveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(700)))
        using (var stalled = new HttpRequestMessage(HttpMethod.Patch, new Uri(toolUrl, "/echo")) { Content = new StreamContent(new StallingStream()) })
        {
            stalled.Headers.TransferEncodingChunked = true;
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.Http.SendAsync(stalled, giveUp.Token));
        }

        await Task.Delay(1000, Cancel);
        Assert.Equal("Running", await Platform.CatalogueScalarAsync<string>(
            "SELECT state FROM tool_instances WHERE host = $1 ORDER BY created_at DESC LIMIT 1", $"sample-{hash}"));
        using (var stillThere = await client.Http.GetAsync(new Uri(toolUrl, "/health"), Cancel))
            Assert.Equal(HttpStatusCode.OK, stillThere.StatusCode);

        // A 120 KB body streamed up (chunked, no length) arrives whole.
        var body = RandomNumberGenerator.GetBytes(120 * 1024);
        using (var patch = new HttpRequestMessage(HttpMethod.Patch, new Uri(toolUrl, "/echo")) { Content = new StreamContent(new MemoryStream(body)) })
        {
            patch.Headers.TransferEncodingChunked = true;
            using var response = await client.Http.SendAsync(patch, Cancel);
            var echo = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel)).RootElement;
            Assert.Equal(body.Length, echo.GetProperty("bodyLength").GetInt64());
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(body)), echo.GetProperty("bodySha256").GetString());
        }

        // WebSockets: binary frames with NUL bytes and text come back as sent, with the chosen subprotocol.
        using (var socket = new ClientWebSocket())
        {
            socket.Options.AddSubProtocol("echo.v1");
            socket.Options.SetRequestHeader("Origin", $"http://sample-{hash}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}");
            using var invoker = new HttpMessageInvoker(new SocketsHttpHandler { ConnectCallback = PortalClient.ConnectToLoopbackAsync, UseProxy = false, CookieContainer = client.Cookies });
            await socket.ConnectAsync(new Uri($"ws://sample-{hash}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/ws"), invoker, Cancel);
            Assert.Equal("echo.v1", socket.SubProtocol);
            byte[] binary = [0, 1, 0, 255, 0, 0, 42];
            await socket.SendAsync(binary, WebSocketMessageType.Binary, true, Cancel);
            var buffer = new byte[1024];
            var received = await socket.ReceiveAsync(buffer, Cancel);
            Assert.Equal(WebSocketMessageType.Binary, received.MessageType);
            Assert.Equal(binary, buffer[..received.Count]);
            await socket.SendAsync(Encoding.UTF8.GetBytes("hello\0there"), WebSocketMessageType.Text, true, Cancel);
            received = await socket.ReceiveAsync(buffer, Cancel);
            Assert.Equal("hello\0there", Encoding.UTF8.GetString(buffer, 0, received.Count));
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", Cancel);
        }

        // A websocket opened from another site's page is refused.
        using (var foreign = new ClientWebSocket())
        {
            foreign.Options.SetRequestHeader("Origin", "http://evil.example");
            using var invoker = new HttpMessageInvoker(new SocketsHttpHandler { ConnectCallback = PortalClient.ConnectToLoopbackAsync, UseProxy = false, CookieContainer = client.Cookies });
            await Assert.ThrowsAsync<WebSocketException>(() => foreign.ConnectAsync(new Uri($"ws://sample-{hash}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/ws"), invoker, Cancel));
        }

        // The tool dies: the next request says so and marks it stopped; opening it again restarts it.
        var pid = int.Parse((await Platform.CatalogueScalarAsync<string>(
            "SELECT launcher_handle FROM tool_instances WHERE host = $1 AND state = 'Running'", $"sample-{hash}"))!);
        using (var process = Process.GetProcessById(pid))
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(Cancel);
        }

        using (var dead = await client.Http.GetAsync(toolUrl, Cancel))
        {
            Assert.Equal(HttpStatusCode.BadGateway, dead.StatusCode);
            Assert.Contains("has stopped", await dead.Content.ReadAsStringAsync(Cancel));
        }

        Assert.Equal("Stopped", await Platform.CatalogueScalarAsync<string>(
            "SELECT state FROM tool_instances WHERE host = $1 ORDER BY created_at DESC LIMIT 1", $"sample-{hash}"));
        using (var restart = await client.Http.GetAsync(toolUrl, Cancel))
        {
            Assert.Equal(HttpStatusCode.Accepted, restart.StatusCode);
            Assert.Equal("ready", (await FollowProgressAsync(client, toolUrl, await restart.Content.ReadAsStringAsync(Cancel)))[^1]);
        }

        Assert.Contains("Tom Evans", await client.Http.GetStringAsync(toolUrl, Cancel));
    }

    [Fact]
    public async Task A_tool_with_traffic_keeps_running_and_one_left_idle_is_stopped_after_its_idle_timeout()
    {
        // The "idle" template is the sample app with a 4-second idle timeout (see RunningPlatform's test settings).
        var (client, hash) = await SignedInWithToolsAsync("tom.evans@partner.example");
        using var _ = client;
        var toolUrl = new Uri($"http://idle-{hash}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/");
        using (var first = await client.Http.GetAsync(toolUrl, Cancel))
        {
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
            Assert.Equal("ready", (await FollowProgressAsync(client, toolUrl, await first.Content.ReadAsStringAsync(Cancel)))[^1]);
        }

        async Task<string> StateAsync() => (await Platform.CatalogueScalarAsync<string>(
            "SELECT state FROM tool_instances WHERE host = $1 ORDER BY created_at DESC LIMIT 1", $"idle-{hash}"))!;

        // Requests every half second for twice the idle timeout: it keeps running.
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(8);)
        {
            using var response = await client.Http.GetAsync(new Uri(toolUrl, "/health"), Cancel);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await Task.Delay(500, Cancel);
        }

        Assert.Equal("Running", await StateAsync());

        // Websocket frames alone count as traffic too.
        using (var socket = new ClientWebSocket())
        {
            socket.Options.SetRequestHeader("Origin", $"http://idle-{hash}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}");
            using var invoker = new HttpMessageInvoker(new SocketsHttpHandler { ConnectCallback = PortalClient.ConnectToLoopbackAsync, UseProxy = false, CookieContainer = client.Cookies });
            await socket.ConnectAsync(new Uri($"ws://idle-{hash}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/ws"), invoker, Cancel);
            var buffer = new byte[64];
            for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(8);)
            {
                await socket.SendAsync("ping"u8.ToArray(), WebSocketMessageType.Text, true, Cancel);
                Assert.Equal(4, (await socket.ReceiveAsync(buffer, Cancel)).Count);
                await Task.Delay(500, Cancel);
            }

            Assert.Equal("Running", await StateAsync());
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", Cancel);
        }

        // Left alone, it is stopped once idle for 4 seconds, with the reason kept and audited.
        var idle = Stopwatch.StartNew();
        while (await StateAsync() != "Stopped" && idle.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(250, Cancel);
        Assert.Equal("Stopped", await StateAsync());
        Assert.True(idle.Elapsed >= TimeSpan.FromSeconds(3), $"stopped after only {idle.Elapsed}");
        Assert.StartsWith("it was idle for 4 seconds", await Platform.CatalogueScalarAsync<string>(
            "SELECT stop_reason FROM tool_instances WHERE host = $1 ORDER BY created_at DESC LIMIT 1", $"idle-{hash}"));
        var pid = int.Parse((await Platform.CatalogueScalarAsync<string>(
            "SELECT launcher_handle FROM tool_instances WHERE host = $1 ORDER BY created_at DESC LIMIT 1", $"idle-{hash}"))!);
        Assert.Throws<ArgumentException>(() => Process.GetProcessById(pid));

        // Opening it again starts it again (not a "stopped answering" page, though the proxy still had its address).
        using (var reopened = await client.Http.GetAsync(toolUrl, Cancel))
        {
            Assert.Equal(HttpStatusCode.Accepted, reopened.StatusCode);
            Assert.Contains("Starting your Idle sample app", await reopened.Content.ReadAsStringAsync(Cancel));
        }
    }

    [Fact]
    public async Task A_visualisation_is_one_shared_instance_that_opens_only_for_those_its_catalogue_entry_allows()
    {
        // The demo's market access dashboard is open to every signed-in user; FTA utilisation to trade.example only.
        var (tom, _) = await SignedInWithToolsAsync("tom.evans@partner.example");
        using var _ = tom;
        var dashboard = new Uri($"http://market-access.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/");
        using (var first = await tom.Http.GetAsync(dashboard, Cancel))
        {
            // Started here, or already by the browser test, which opens the same dashboard.
            Assert.True(first.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK, $"{first.StatusCode}");
            if (first.StatusCode == HttpStatusCode.Accepted)
                Assert.Equal("ready", (await FollowProgressAsync(tom, dashboard, await first.Content.ReadAsStringAsync(Cancel)))[^1]);
        }

        var portalOrigin = $"http://{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}";
        using (var app = await tom.Http.GetAsync(dashboard, Cancel))
        {
            Assert.Contains("Tom Evans", await app.Content.ReadAsStringAsync(Cancel));
            // The app's own response may be framed by the portal (it is wrapped), by nobody else.
            Assert.Contains($"frame-ancestors 'self' {portalOrigin}", app.Headers.GetValues("Content-Security-Policy"));
        }

        // Wrapped: the portal page frames it under the header, and its policy allows framing the platform's tool hosts only.
        using (var wrapped = await tom.Http.GetAsync("/apps/market-access", Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, wrapped.StatusCode);
            Assert.Contains($"src=\"{dashboard}\"", await wrapped.Content.ReadAsStringAsync(Cancel));
            var policy = wrapped.Headers.GetValues("Content-Security-Policy").Single();
            Assert.Contains($"frame-src 'self' http://*.{Platform.PortalUrl.Host}:*", policy);
            Assert.Contains("frame-ancestors 'none'", policy);
        }

        // Another user reaches the same instance at once, and the app sees who is viewing.
        var (priya, _) = await SignedInWithToolsAsync("priya.shah@trade.example");
        using var __ = priya;
        using (var shared = await priya.Http.GetAsync(dashboard, Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, shared.StatusCode);
            Assert.Contains("Priya Shah", await shared.Content.ReadAsStringAsync(Cancel));
        }

        Assert.Equal(1L, await Platform.CatalogueScalarAsync<long>("SELECT count(*) FROM tool_instances WHERE host = 'market-access' AND state <> 'Stopped'"));

        var fta = new Uri($"http://fta-utilisation.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/");
        using (var refused = await tom.Http.GetAsync(fta, Cancel))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            var page = await refused.Content.ReadAsStringAsync(Cancel);
            Assert.Contains("You cannot open this visualisation", page);
            Assert.Contains("/datasets/fta-utilisation", page);
        }

        Assert.Equal(0L, await Platform.CatalogueScalarAsync<long>("SELECT count(*) FROM tool_instances WHERE host = 'fta-utilisation'"));
        using (var allowed = await priya.Http.GetAsync(fta, Cancel))
        {
            Assert.Equal(HttpStatusCode.Accepted, allowed.StatusCode);
            // The progress page is the platform's own: its strict policy, but the portal may frame it.
            var progressPolicy = allowed.Headers.GetValues("Content-Security-Policy").Single();
            Assert.Contains("script-src 'self'", progressPolicy);
            Assert.EndsWith($"frame-ancestors 'self' {portalOrigin}", progressPolicy);
        }
    }

    [Fact]
    public async Task Another_user_gets_403_at_someone_elses_tool_and_unknown_or_malformed_hosts_get_a_page()
    {
        var (owner, ownerHash) = await SignedInWithToolsAsync("tom.evans@partner.example");
        owner.Dispose();
        var (other, otherHash) = await SignedInWithToolsAsync("priya.shah@trade.example");
        using var _ = other;

        using var refused = await other.Http.GetAsync(ToolUrl(ownerHash), Cancel);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var page = await refused.Content.ReadAsStringAsync(Cancel);
        Assert.Contains("This is not your tool", page);
        Assert.Contains($"sample-{otherHash}", page);
        // Nothing was launched for anyone by that visit.
        Assert.Equal(0L, await Platform.CatalogueScalarAsync<long>("SELECT count(*) FROM tool_instances WHERE host = $1 AND owner_id <> (SELECT id FROM users WHERE email = 'tom.evans@partner.example')", $"sample-{ownerHash}"));

        using var malformed = await other.Http.GetAsync(new Uri($"http://not_a-tool.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/"), Cancel);
        Assert.Equal(HttpStatusCode.NotFound, malformed.StatusCode);
        using var badPort = await other.Http.GetAsync(new Uri($"http://sample-{otherHash}--70000.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/"), Cancel);
        Assert.Equal(HttpStatusCode.BadRequest, badPort.StatusCode);
        Assert.Contains("outside 1-65535", await badPort.Content.ReadAsStringAsync(Cancel));
        using var unknownTool = await other.Http.GetAsync(new Uri($"http://nothing-{otherHash}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/"), Cancel);
        Assert.Equal(HttpStatusCode.NotFound, unknownTool.StatusCode);

        // Paths with "..", encoded or not, or backslashes, and oversized headers, are refused before anything starts.
        var host = $"sample-{otherHash}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}";
        var cookie = other.Cookies.GetCookieHeader(Platform.PortalUrl);
        var launched = await Platform.CatalogueScalarAsync<long>("SELECT count(*) FROM tool_instances WHERE host = $1", $"sample-{otherHash}");
        foreach (var path in new[] { "/files/%2e%2e/%2E%2E/etc/passwd", "/files/..%2fsecret", "/files\\secret", "/files/%5Csecret" })
        {
            var (status, body) = await RawGetAsync(host, path, $"Cookie: {cookie}");
            Assert.True(status == 400, $"{path}: {status}");
            Assert.Contains("not passed to tools", body);
        }

        Assert.Equal(431, (await RawGetAsync(host, "/", $"Cookie: {cookie}", $"X-Huge: {new string('a', 64 * 1024)}")).Status);
        Assert.Equal(launched, await Platform.CatalogueScalarAsync<long>("SELECT count(*) FROM tool_instances WHERE host = $1", $"sample-{otherHash}"));
    }

    /// <summary>A request body that sends a few bytes and then nothing, until the client gives up.</summary>
    private sealed class StallingStream : Stream
    {
        private bool sent;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!sent)
            {
                sent = true;
                "partial"u8.CopyTo(buffer.Span);
                return 7;
            }

            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }
    }

    /// <summary>A request written byte for byte (HttpClient would normalise the path): its status and body.</summary>
    private async Task<(int Status, string Body)> RawGetAsync(string host, string path, params string[] headers)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, Platform.PortalUrl.Port, Cancel);
        await using var stream = tcp.GetStream();
        var request = $"GET {path} HTTP/1.1\r\nHost: {host}\r\n{string.Concat(headers.Select(h => h + "\r\n"))}Connection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), Cancel);
        var response = await new StreamReader(stream).ReadToEndAsync(Cancel);
        return (int.Parse(response.Split(' ')[1]), response);
    }

    [Fact]
    public async Task The_portal_never_forwards_the_internal_api_and_service_discovery_takes_only_prometheus_credentials()
    {
        var (client, hash) = await SignedInWithToolsAsync("tom.evans@partner.example");
        using var _ = client;
        using var response = await client.Http.GetAsync($"/internal/v1/tools/sample-{hash}", Cancel);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);

        // Prometheus's service discovery needs no session, only its own basic-auth credentials.
        using var anonymous = Platform.Client(followRedirects: false);
        using (var refused = await anonymous.Http.GetAsync("/api/v1/application", Cancel))
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        var password = (await File.ReadAllTextAsync(Path.Combine(Platform.DataDirectory, "secrets", "prometheus-password"), Cancel)).Trim();
        using var discover = new HttpRequestMessage(HttpMethod.Get, "/api/v1/application");
        discover.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"prometheus:{password}")));
        using var discovered = await anonymous.Http.SendAsync(discover, Cancel);
        Assert.Equal(HttpStatusCode.OK, discovered.StatusCode);
        Assert.Equal(JsonValueKind.Array, JsonDocument.Parse(await discovered.Content.ReadAsStringAsync(Cancel)).RootElement.ValueKind);
    }
}
