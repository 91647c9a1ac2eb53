using System.Net.Http.Json;
using System.Text;
using DataWorkspace.TestSupport;

namespace DataWorkspace.Bench.Fuzz;

/// <summary>
/// Malformed HTTP/1.x at the proxy over raw sockets: request lines, hosts, huge headers, bad encodings, Content-Length
/// and Transfer-Encoding conflicts, chunk sizes, versions, pipelining and smuggling shapes. The fuzzing connections are
/// anonymous or Morgan's (another user); Tom, the victim, asks for his own file roots throughout and must always get
/// his own answer, and no fuzzing connection may ever see anything of his.
/// </summary>
public sealed class ProxyFuzz(int port, string tomHome, string morganCookie, string tomHash, Tally tally, Mutator mutator)
{
    private const int Workers = 12;
    private const int Batch = 24;
    private readonly string portal = $"dataworkspace.localhost:{port}";
    private string Tool => $"sample-{tomHash}.dataworkspace.localhost:{port}";

    private string Get(string path = "/", string? host = null, string extra = "") => $"GET {path} HTTP/1.1\r\nHost: {host ?? portal}\r\n{extra}\r\n";
    private string InnerRoots => $"GET /api/v1/files/roots HTTP/1.1\r\nHost: {portal}\r\n\r\n";
    private string Json(string body, string extra = "") =>
        $"POST /api/v1/explorer/explain HTTP/1.1\r\nHost: {portal}\r\nCookie: {morganCookie}\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n{extra}\r\n{body}";
    private string Chunked(string body, string extra = "") =>
        $"POST /api/v1/explorer/explain HTTP/1.1\r\nHost: {portal}\r\nCookie: {morganCookie}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n{extra}\r\n{Encoding.UTF8.GetByteCount(body):x}\r\n{body}\r\n0\r\n\r\n";

    private List<string> Seeds() =>
    [
        Get(),
        Get("/api/v1/files/roots", extra: $"Cookie: {morganCookie}\r\n"),
        Get("/api/v1/files/roots"),
        Json("""{"sql":"select 1"}"""),
        Chunked("""{"sql":"select 1"}"""),
        Get("/healthcheck"),
        Get("/", Tool),
        Get("/datasets?q=trade", extra: $"Cookie: {morganCookie}\r\n"),
    ];

    private List<string> Hosts() =>
    [
        "", "unknown.example", "127.0.0.1", $"127.0.0.1:{port}", $"[::1]:{port}", "dataworkspace.localhost:99999", "dataworkspace.localhost:abc",
        $"DATAWORKSPACE.LOCALHOST:{port}", $"dataworkspace.localhost.:{port}", "xn--dtaworkspace-q9a.localhost", $"d\u00e4taworkspace.localhost:{port}",
        $"sample-00000000.dataworkspace.localhost:{port}", $"a.b.dataworkspace.localhost:{port}", $"sample-{tomHash}--99999.dataworkspace.localhost:{port}",
        $"sample-{tomHash}--0.dataworkspace.localhost:{port}", $".dataworkspace.localhost:{port}", "dataworkspace.localhost@evil.example", "evil.example#dataworkspace.localhost",
        $" {portal}", $"{portal} ", new string('a', 300) + ".dataworkspace.localhost", $"-.dataworkspace.localhost:{port}", $"{portal}, evil.example",
        "[::1", "[zz::1]:80", $"sample-{tomHash.ToUpperInvariant()}.dataworkspace.localhost:{port}", $"sample.dataworkspace.localhost:{port}", $"{portal}:{port}",
        $"\u0441ample-{tomHash}.dataworkspace.localhost:{port}", $"sample-{tomHash}.dataworkspace.localhost.evil.example",
    ];

    private static readonly string[] Paths =
    [
        "/%", "/%zz", "/%00", "/%c0%af", "/..%2f..%2fetc/passwd", "/a/../../", "//evil.example/", "/%2e%2e/%2e%2e/", "/\u00e9", "/api/v1/files/roots%00",
        "/api/v1/files/roots/..", "/API/V1/FILES/ROOTS", "/internal/tools", "/%69nternal/tools", "/health", "/metrics", "/_dataworkspace/x", "/sign-in?returnUrl=//evil.example",
        "/sign-in?returnUrl=http://evil.example", "*", "", "/?" + new string('q', 9000), "/" + string.Concat(Enumerable.Repeat("%F0%9F", 50)),
    ];

    private static readonly string[] TransferEncodings =
        ["chunked", " chunked", "chunked, identity", "identity, chunked", "xchunked", "Chunked", "\tchunked", "chunked\u000b", "chunked, chunked", "gzip, chunked", "\"chunked\"", "chunk", ""];

    private static readonly string[] ContentLengths = ["-1", "1,1", "+5", "0x10", " 5", "5 5", "99999999999999999999", "18446744073709551616", "00000000000000000005", "", "5\u0000"];

    private static readonly string[] ChunkSizes = ["zz", "-1", "ffffffffffffffff", "1;ext=\"", "0x5", " 5", "5 ", "1\n", "", "00000000000000000000000000000000012"];

    private static readonly string[] Versions = ["HTTP/1.0", "HTTP/0.9", "HTTP/2.0", "HTTP/1.1x", "http/1.1", "HTTP/1.2", "HTTP/3", "HTTP/1.1 ", "HTTP/", "HTTP/1.10"];

    private static readonly string[] Methods = ["GE T", "", "get", "CONNECT", "TRACE", "PRI", "DELETE", "X" + new string('M', 300), "G\u0000ET", "PATCH"];

    /// <summary>Known shapes that broke proxies before: each is sent once, before the random cases.</summary>
    private List<(string Name, string Request, int Expected)> Known()
    {
        var body = """{"sql":"select 1"}""";
        var inner = InnerRoots;
        return
        [
            ("CL.TE smuggle", $"POST /api/v1/explorer/explain HTTP/1.1\r\nHost: {portal}\r\nContent-Length: {5 + inner.Length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{inner}", 2),
            ("TE.CL smuggle", $"POST /api/v1/explorer/explain HTTP/1.1\r\nHost: {portal}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n{inner.Length + 2:x}\r\nXX{inner}\r\n0\r\n\r\n", 2),
            ("TE.TE obfuscated", $"POST /api/v1/explorer/explain HTTP/1.1\r\nHost: {portal}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\nContent-Length: 3\r\n\r\n0\r\n\r\n{inner}", 2),
            ("two Content-Lengths", $"POST /api/v1/explorer/explain HTTP/1.1\r\nHost: {portal}\r\nContent-Length: 0\r\nContent-Length: {inner.Length}\r\n\r\n{inner}", 2),
            ("CL 0 with body", $"GET / HTTP/1.1\r\nHost: {portal}\r\nContent-Length: 0\r\n\r\n{inner}", 2),
            ("GET with body smuggle", $"GET / HTTP/1.1\r\nHost: {portal}\r\nContent-Length: {inner.Length}\r\n\r\n{inner}", 2),
            ("chunk extension smuggle", $"POST /api/v1/explorer/explain HTTP/1.1\r\nHost: {portal}\r\nTransfer-Encoding: chunked\r\n\r\n2;\n\r\nxx\r\n0\r\n\r\n{inner}", 2),
            ("bare LF chunk", $"POST /api/v1/explorer/explain HTTP/1.1\r\nHost: {portal}\r\nTransfer-Encoding: chunked\r\n\r\n2\nxx\n0\n\n{inner}", 2),
            ("obs-fold header", $"GET / HTTP/1.1\r\nHost: {portal}\r\nX-Folded: a\r\n b\r\n\r\n", 1),
            ("space before colon", $"GET / HTTP/1.1\r\nHost : {portal}\r\n\r\n", 1),
            ("duplicate Host", $"GET / HTTP/1.1\r\nHost: {portal}\r\nHost: evil.example\r\n\r\n", 1),
            ("no Host", "GET / HTTP/1.1\r\n\r\n", 1),
            ("HTTP/1.0 no Host", "GET / HTTP/1.0\r\n\r\n", 1),
            ("HTTP/1.0 keep-alive pipelined", $"GET / HTTP/1.0\r\nHost: {portal}\r\nConnection: keep-alive\r\n\r\n{InnerRoots}", 2),
            ("absolute-form, other Host", $"GET http://evil.example/ HTTP/1.1\r\nHost: {portal}\r\n\r\n", 1),
            ("absolute-form, same Host", $"GET http://{portal}/api/v1/files/roots HTTP/1.1\r\nHost: {portal}\r\n\r\n", 1),
            ("absolute-form tool host", $"GET http://{Tool}/ HTTP/1.1\r\nHost: {portal}\r\n\r\n", 1),
            ("request line 70 KB", $"GET /{new string('a', 70_000)} HTTP/1.1\r\nHost: {portal}\r\n\r\n", 1),
            ("header 40 KB", $"GET / HTTP/1.1\r\nHost: {portal}\r\nX-Big: {new string('b', 40_000)}\r\n\r\n", 1),
            ("headers 200 KB in all", $"GET / HTTP/1.1\r\nHost: {portal}\r\n{string.Concat(Enumerable.Range(0, 200).Select(i => $"X-H{i}: {new string('c', 1000)}\r\n"))}\r\n", 1),
            ("1,000 headers", $"GET / HTTP/1.1\r\nHost: {portal}\r\n{string.Concat(Enumerable.Range(0, 1000).Select(i => $"X-{i}: v\r\n"))}\r\n", 1),
            ("cookie 60 KB", $"GET / HTTP/1.1\r\nHost: {portal}\r\nCookie: {morganCookie}; {string.Concat(Enumerable.Range(0, 2000).Select(i => $"c{i}=xxxxxxxxxxxxxxxxxxxxxxxx; "))}\r\n\r\n", 1),
            ("forged identity", $"GET /api/v1/files/roots HTTP/1.1\r\nHost: {portal}\r\nX-DataWorkspace-Identity: forged\r\nX-DataWorkspace-User-Id: a3e9d4c2-71b5-4f06-8d3a-2c6e9b1f4d52\r\nX-DataWorkspace-Service: x\r\n\r\n", 1),
            ("forged forwarded for", $"GET /api/v1/files/roots HTTP/1.1\r\nHost: {portal}\r\nCookie: {morganCookie}\r\nX-Forwarded-For: 1.2.3.4, , zz\r\nX-Forwarded-Host: evil.example\r\nForwarded: for=\"[::1\"\r\n\r\n", 1),
            ("bearer garbage", $"GET /api/v1/files/roots HTTP/1.1\r\nHost: {portal}\r\nAuthorization: Bearer \u0000\u00ff{new string('t', 5000)}\r\n\r\n", 1),
            ("bearer on tool host", $"GET / HTTP/1.1\r\nHost: {Tool}\r\nAuthorization: Bearer dw_xxx\r\n\r\n", 1),
            ("NUL in path", $"GET /\0 HTTP/1.1\r\nHost: {portal}\r\n\r\n", 1),
            ("overlong UTF-8 path", $"GET /\u00c0\u00af HTTP/1.1\r\nHost: {portal}\r\n\r\n", 1),
            ("raw UTF-8 header", $"GET / HTTP/1.1\r\nHost: {portal}\r\nX-Name: d\u00e4ta \U0001F600\r\n\r\n", 1),
            ("chunked huge size", $"POST /api/v1/explorer/explain HTTP/1.1\r\nHost: {portal}\r\nCookie: {morganCookie}\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nxx\r\n", 1),
            ("Content-Length 35 MB, body never sent", $"POST /api/v1/explorer/explain HTTP/1.1\r\nHost: {portal}\r\nCookie: {morganCookie}\r\nContent-Type: application/json\r\nContent-Length: 35000000\r\n\r\n", 1),
            ("pipeline of 10", string.Concat(Enumerable.Repeat(Get(), 9)) + InnerRoots, 10),
            ("Expect 100-continue", $"POST /api/v1/explorer/explain HTTP/1.1\r\nHost: {portal}\r\nCookie: {morganCookie}\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}", 2),
            ("Upgrade h2c", $"GET / HTTP/1.1\r\nHost: {portal}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", 1),
            ("websocket upgrade on portal", $"GET / HTTP/1.1\r\nHost: {portal}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 1),
            ("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 1),
            ("TLS hello", "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003", 1),
            ("body cut short", Json("""{"sql":"select 1"}""")[..^5], 1),
            ("JSON body with NUL", Json("{\"sql\":\"select 1\u0000\"}"), 1),
        ];
    }

    /// <summary>A random case: a seed changed in one or two structured ways, sometimes then byte-mutated; or several pipelined.</summary>
    private (string Name, byte[] Request, int Expected) Random()
    {
        var seeds = Seeds();
        var hosts = Hosts();
        var text = mutator.Pick(seeds);
        var names = new List<string>();
        var expected = 1;
        for (var step = mutator.Next(1, 3); step > 0; step--)
        {
            switch (mutator.Next(14))
            {
                case 0:
                    var host = mutator.Pick(hosts);
                    text = ReplaceHeader(text, "Host", host);
                    names.Add($"Host '{host}'");
                    break;
                case 1:
                    text = AddHeader(text, "Host", mutator.Pick(hosts));
                    names.Add("second Host");
                    break;
                case 2:
                    var size = mutator.Pick(new[] { 9_000, 20_000, 33_000, 70_000, 130_000 });
                    text = AddHeader(text, "X-Big", new string('b', size));
                    names.Add($"header {size:N0} bytes");
                    break;
                case 3:
                    var count = mutator.Next(90, 400);
                    for (var i = 0; i < count; i++) text = AddHeader(text, $"X-N{i}", "v");
                    names.Add($"{count} more headers");
                    break;
                case 4:
                    var path = mutator.Pick(Paths);
                    text = ReplaceTarget(text, path);
                    names.Add($"path '{path[..Math.Min(path.Length, 40)]}'");
                    break;
                case 5:
                    var version = mutator.Pick(Versions);
                    text = ReplaceVersion(text, version);
                    names.Add(version);
                    break;
                case 6:
                    var method = mutator.Pick(Methods);
                    text = text.IndexOf(' ') is var space and >= 0 ? method + text[space..] : method + " " + text;
                    names.Add($"method '{method[..Math.Min(method.Length, 20)]}'");
                    break;
                case 7:
                    var te = mutator.Pick(TransferEncodings);
                    text = AddHeader(text, "Transfer-Encoding", te);
                    names.Add($"TE '{te}'");
                    break;
                case 8:
                    var cl = mutator.Pick(ContentLengths);
                    text = mutator.Chance(0.5) ? ReplaceHeader(text, "Content-Length", cl) : AddHeader(text, "Content-Length", cl);
                    names.Add($"CL '{cl}'");
                    break;
                case 9 when text.Contains("chunked\r\n", StringComparison.Ordinal):
                    var chunk = mutator.Pick(ChunkSizes);
                    var bodyAt = text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
                    if (bodyAt < 4 || text.IndexOf("\r\n", bodyAt, StringComparison.Ordinal) is not (var sizeEnd and >= 0)) break;
                    text = text[..bodyAt] + chunk + text[sizeEnd..];
                    names.Add($"chunk size '{chunk}'");
                    break;
                case 10:
                    var ending = mutator.Pick(new[] { "\n", "\r", "\r\r\n", "\n\r" });
                    text = text.Replace("\r\n", ending, StringComparison.Ordinal);
                    names.Add($"line ends {Tally.Shown(Encoding.ASCII.GetBytes(ending))}");
                    break;
                case 11:
                    var more = mutator.Next(1, 5);
                    for (var i = 0; i < more; i++) text += mutator.Chance(0.3) ? InnerRoots : mutator.Pick(seeds);
                    expected += more;
                    names.Add($"{more} pipelined");
                    break;
                case 12:
                    var inner = InnerRoots;
                    var at = text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
                    text = text[..at] + "0\r\n\r\n" + inner + text[at..];
                    expected++;
                    names.Add("request hidden in the body");
                    break;
                default:
                    var name = mutator.Pick(new[] { "X-DataWorkspace-Identity", "X-DataWorkspace-User-Id", "X-Forwarded-For", "X-Forwarded-Host", "Forwarded", "Cookie", "Authorization", "Accept-Encoding" });
                    text = AddHeader(text, name, mutator.Mutate(name == "Cookie" ? morganCookie : "x"));
                    names.Add($"header {name}");
                    break;
            }
        }

        var bytes = Encoding.UTF8.GetBytes(text);
        if (mutator.Chance(0.3))
        {
            bytes = mutator.Mutate(bytes);
            names.Add("byte-mutated");
        }
        return (string.Join(", ", names), bytes, expected);
    }

    /// <summary>A random case; a change the generator cannot make to what earlier changes left sends the first seed instead.</summary>
    private (string Name, byte[] Request, int Expected) RandomOrSeed()
    {
        try
        {
            return Random();
        }
        catch (ArgumentOutOfRangeException)
        {
            return ("seed", Encoding.UTF8.GetBytes(Seeds()[0]), 1);
        }
    }

    private static string AddHeader(string request, string name, string value)
    {
        var end = request.IndexOf("\r\n", StringComparison.Ordinal);
        return end < 0 ? request : request[..(end + 2)] + $"{name}: {value}\r\n" + request[(end + 2)..];
    }

    private static string ReplaceHeader(string request, string name, string value)
    {
        var at = request.IndexOf($"\r\n{name}:", StringComparison.OrdinalIgnoreCase);
        if (at < 0) return AddHeader(request, name, value);
        var end = request.IndexOf("\r\n", at + 2, StringComparison.Ordinal);
        return end < 0 ? request : request[..(at + 2)] + $"{name}: {value}" + request[end..];
    }

    private static string ReplaceTarget(string request, string target)
    {
        var first = request.IndexOf(' ');
        var second = request.IndexOf(' ', first + 1);
        return first < 0 || second < 0 ? request : request[..(first + 1)] + target + request[second..];
    }

    private static string ReplaceVersion(string request, string version)
    {
        var end = request.IndexOf("\r\n", StringComparison.Ordinal);
        var space = end <= 0 ? -1 : request.LastIndexOf(' ', end - 1);
        return space < 0 ? request : request[..(space + 1)] + version + request[end..];
    }

    /// <summary>How many of Tom's own requests ran alongside the fuzzing.</summary>
    public int Probes { get; private set; }

    public async Task RunAsync(PortalClient tom, TimeSpan duration, int maxCases, CancellationToken cancellationToken)
    {
        var until = DateTime.UtcNow + duration;
        var known = Known();
        var probes = 0;
        using var stopVictim = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Tom's own requests run alongside the fuzzing: smuggled bytes would show up in his answers.
        var victim = Task.Run(async () =>
        {
            while (!stopVictim.IsCancellationRequested)
            {
                await ProbeAsync(tom, "during the fuzzing");
                Interlocked.Increment(ref probes);
                try { await Task.Delay(150, stopVictim.Token); } catch (OperationCanceledException) { }
            }
        }, CancellationToken.None);

        var next = 0;
        var generated = new Lock();
        while (DateTime.UtcNow < until && next < maxCases && !cancellationToken.IsCancellationRequested)
        {
            var before = next;
            await Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
            {
                for (var i = 0; i < Batch / Workers; i++)
                {
                    if (DateTime.UtcNow >= until) return;
                    (string Name, byte[] Request, int Expected) work;
                    lock (generated)
                    {
                        if (next >= maxCases) return;
                        var index = next++;
                        work = index < known.Count ? ("known: " + known[index].Name, Bytes(known[index].Request), known[index].Expected) : RandomOrSeed();
                    }
                    await OneAsync(work.Name, work.Request, work.Expected, cancellationToken);
                }
            })));
            // After each batch the proxy must still answer a normal request.
            if (!await ProbeAsync(tom, $"after cases {before + 1}-{next}"))
                tally.Outcome("proxy not answering after a batch");
        }

        await stopVictim.CancelAsync();
        await victim;
        Probes = probes;
    }

    /// <summary>Latin-1 for text that spells raw bytes as \u0080-\u00ff, UTF-8 otherwise.</summary>
    private static byte[] Bytes(string text) =>
        text.Any(c => c is > '\u007f' and <= '\u00ff') && !text.Any(c => c > '\u00ff') ? Encoding.Latin1.GetBytes(text) : Encoding.UTF8.GetBytes(text);

    private async Task OneAsync(string name, byte[] request, int expected, CancellationToken cancellationToken)
    {
        tally.Sending();
        RawExchange exchange;
        try
        {
            exchange = await RawHttp.ExchangeAsync(port, request, expected, head: false, cancellationToken: cancellationToken);
        }
        catch (Exception exception) when (exception is System.Net.Sockets.SocketException or OperationCanceledException)
        {
            tally.Outcome("could not connect");
            tally.Found("crash", name, $"the proxy did not accept a connection: {exception.Message}", request);
            return;
        }

        foreach (var response in exchange.Responses)
        {
            // Kestrel answers a request line with a version it does not speak (HTTP/1.2, http/1.1) with 505 itself,
            // before any of the proxy's code: the status RFC 9110 gives for it, counted apart.
            if (response.Status == 505)
            {
                tally.Outcome("505 (Kestrel: unknown HTTP version)");
                continue;
            }
            tally.Outcome($"{response.Status / 100}xx");
            if (response.Status >= 500)
                tally.Found("5xx", name, $"{response.Status}: {FirstLines(response.Text)}", request);
            if (response.Text.Contains(tomHome, StringComparison.Ordinal))
                tally.Found("leak", name, $"a fuzzing connection was given Tom's files ({response.Status})", request);
        }
        if (exchange.Responses.Count == 0)
            tally.Outcome(exchange.Reset ? "reset" : exchange.Closed ? "closed" : "no answer (waiting for more)");
        else if (exchange.Unparsable)
            tally.Outcome("answer not HTTP");
    }

    private async Task<bool> ProbeAsync(PortalClient tom, string when)
    {
        try
        {
            using var response = await tom.Http.GetAsync("/api/v1/files/roots");
            var body = await response.Content.ReadAsStringAsync();
            if ((int)response.StatusCode == 200 && body.Contains(tomHome, StringComparison.Ordinal)) return true;
            tally.Found("victim", $"Tom's own request {when}", $"{(int)response.StatusCode}: {body[..Math.Min(body.Length, 300)]}", "GET /api/v1/files/roots (Tom)");
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            tally.Found("victim", $"Tom's own request {when}", exception.Message, "GET /api/v1/files/roots (Tom)");
        }
        return false;
    }

    private static string FirstLines(string text) => string.Join(" | ", text.Split("\r\n").Take(1).Concat(text.Split("\r\n\r\n").Skip(1).Take(1).Select(b => b[..Math.Min(b.Length, 300)])));
}
