using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using DataWorkspace.TestSupport;

namespace DataWorkspace.Bench.Load;

/// <summary>A demo user of the identity provider that a simulated user signs in as.</summary>
public sealed record LoadIdentity(int Index, string Id, string Email, string FirstName, string LastName);

/// <summary>
/// What every simulated user shares: the catalogue to browse, the SQL to run, the websocket client, and how a connection
/// to the platform is made (through the load balancer in front of the proxy replicas).
/// </summary>
public sealed class LoadScript(RequestLog log, IReadOnlyList<string> searches, IReadOnlyList<string> datasetSlugs, IReadOnlyList<string> queries,
    HttpMessageInvoker webSockets, TimeSpan meanThink, Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> connect)
{
    public Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> Connect { get; } = connect;
    public RequestLog Log { get; } = log;
    public IReadOnlyList<string> Searches { get; } = searches;
    public IReadOnlyList<string> DatasetSlugs { get; } = datasetSlugs;
    public IReadOnlyList<string> Queries { get; } = queries;
    public HttpMessageInvoker WebSockets { get; } = webSockets;
    public TimeSpan MeanThink { get; } = meanThink;
}

/// <summary>
/// One simulated user: its own HttpClient (cookies, connections) as a browser has, signed in through the real OpenID
/// Connect flow; then rounds of the portal's pages and APIs with think time between them until the run stops. Every
/// request is timed and logged; a failed step ends the round's chain (the next round starts over).
/// </summary>
public sealed partial class LoadUser(LoadIdentity identity, Uri portal, Uri app, LoadScript script) : IDisposable
{
    private readonly PortalClient client = new(portal, connect: script.Connect);
    private readonly Random random = new(identity.Index);
    private readonly byte[] upload = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 60).Select(i => $"{i},user {identity.Index},{i * 37 % 1000},{(i % 7 == 0 ? "north" : "south")}\n")));
    private readonly byte[] echo = new byte[32];
    private readonly byte[] received = new byte[64];
    private byte[] body = new byte[64 * 1024];
    private List<Sample> samples = [];
    private ClientWebSocket? socket;

    /// <summary>When the held websocket was last known to work (its opening, or the last echo that came back), ms into the load.</summary>
    private int socketGoodAt;
    private string? home;
    private int round;
    private CancellationToken stop;

    public LoadIdentity Identity => identity;

    /// <summary>The tool or visualisation this user opens and holds a websocket to.</summary>
    public Uri App => app;

    public PortalClient Client => client;

    public async Task<TimeSpan> SignInAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        using var page = await client.SignInAsync(identity.Email, "/", cancellationToken);
        page.EnsureSuccessStatusCode();
        if (page.RequestMessage?.RequestUri?.Host != portal.Host)
            throw new InvalidOperationException($"{identity.Email}'s sign-in ended at {page.RequestMessage?.RequestUri}, not the portal");
        return clock.Elapsed;
    }

    /// <summary>Rounds until <paramref name="stop"/>: requests already sent finish, the next think ends the loop.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        this.stop = stop;
        samples = script.Log.NewList();
        // Users do not all start at the same instant.
        if (!await ThinkAsync(stop, random.NextDouble() * 2 * script.MeanThink.TotalSeconds)) return;
        while (!stop.IsCancellationRequested)
        {
            round++;
            await RoundAsync(stop);
        }

        if (socket is not null)
        {
            using var closing = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", closing.Token);
            }
            catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or IOException)
            {
                // The run is over: a socket that does not close cleanly is not the platform's failure.
            }

            socket.Dispose();
        }
    }

    private async Task RoundAsync(CancellationToken stop)
    {
        // A person who meets an error page reads it and tries again a few seconds later, as the 503 pages ask.
        if (!await RoundStepsAsync()) await ThinkAsync(stop);
        await ThinkAsync(stop);
    }

    /// <summary>One round's pages, each followed by think time; false at the first that failed.</summary>
    private async Task<bool> RoundStepsAsync()
    {
        if (!(await GetAsync(Operation.Home, "/")).Ok || !await ThinkAsync(stop)) return false;
        if (!(await GetAsync(Operation.Search, Pick(script.Searches))).Ok || !await ThinkAsync(stop)) return false;
        for (var i = 0; i < 2; i++)
            if (!(await GetAsync(Operation.Dataset, "/datasets/" + Pick(script.DatasetSlugs))).Ok || !await ThinkAsync(stop)) return false;
        if (!await ExplorerAsync() || !await ThinkAsync(stop)) return false;
        if (!await FilesAsync() || !await ThinkAsync(stop)) return false;
        await AppAsync();
        return true;
    }

    /// <summary>The Data Explorer's page, a query run as the page runs it, then a page of its result.</summary>
    private async Task<bool> ExplorerAsync()
    {
        if (!(await GetAsync(Operation.ExplorerPage, "/data-explorer")).Ok) return false;
        var sql = Pick(script.Queries);
        var run = await SendAsync(Operation.ExplorerRun, HttpMethod.Post, "/api/v1/explorer/run", Json(new { sql, wait = 5 }), [HttpStatusCode.OK, HttpStatusCode.Accepted]);
        if (!run.Ok) return false;
        var (id, status, total, error) = QueryState(run.Length);
        for (var polls = 0; status == "running" && polls < 12; polls++)
        {
            var poll = await GetAsync(Operation.ExplorerPoll, $"/api/v1/explorer/queries/{id}?wait=5");
            if (!poll.Ok) return false;
            (_, status, total, error) = QueryState(poll.Length);
        }

        if (status != "completed")
        {
            Fail(Operation.ExplorerRun, $"the query ended '{status}': {error}");
            return false;
        }

        return (await GetAsync(Operation.ExplorerResults, $"/api/v1/explorer/queries/{id}?page={(total > 1000 ? 2 : 1)}")).Ok;
    }

    private (string Id, string? Status, long Total, string? Error) QueryState(int length)
    {
        using var json = JsonDocument.Parse(body.AsMemory(0, length));
        var root = json.RootElement;
        return (root.GetProperty("id").GetString()!, root.GetProperty("status").GetString(),
            root.TryGetProperty("total", out var total) && total.ValueKind == JsonValueKind.Number ? total.GetInt64() : 0,
            root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object ? error.ToString() : null);
    }

    /// <summary>The files page, then one small file up and down through the files API's presigned S3 flow, as the page does it.</summary>
    private async Task<bool> FilesAsync()
    {
        if (!(await GetAsync(Operation.FilesPage, "/files")).Ok) return false;
        if (home is null)
        {
            var roots = await GetAsync(Operation.FilesRoots, "/api/v1/files/roots");
            if (!roots.Ok) return false;
            using var json = JsonDocument.Parse(body.AsMemory(0, roots.Length));
            home = json.RootElement.GetProperty("roots").EnumerateArray().First(r => r.GetProperty("kind").GetString() == "home").GetProperty("prefix").GetString();
        }

        var key = $"{home}load/file-{round % 4}.csv";
        var presign = await SendAsync(Operation.UploadPresign, HttpMethod.Post, "/api/v1/files/uploads", Json(new { files = new[] { new { key, size = upload.Length, contentType = "text/csv" } } }), [HttpStatusCode.OK]);
        if (!presign.Ok) return false;
        using var form = new MultipartFormDataContent();
        string url;
        using (var json = JsonDocument.Parse(body.AsMemory(0, presign.Length)))
        {
            var root = json.RootElement;
            var urls = root.GetProperty("urls");
            url = urls.GetArrayLength() > 0 ? urls[round % urls.GetArrayLength()].GetString()! : root.GetProperty("url").GetString()!;
            foreach (var field in root.GetProperty("fields").EnumerateObject()) form.Add(new StringContent(field.Value.GetString()!), field.Name);
            foreach (var field in root.GetProperty("uploads")[0].GetProperty("fields").EnumerateObject()) form.Add(new StringContent(field.Value.GetString()!), field.Name);
        }

        var file = new ByteArrayContent(upload);
        file.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        form.Add(file, "file", "file.csv");
        if (!(await SendAsync(Operation.UploadToS3, HttpMethod.Post, url, form)).Ok) return false;
        if (!(await SendAsync(Operation.UploadConfirm, HttpMethod.Post, "/api/v1/files/uploads/done", Json(new { keys = new[] { key } }), [HttpStatusCode.OK])).Ok) return false;

        var link = await SendAsync(Operation.DownloadPresign, HttpMethod.Post, "/api/v1/files/download", Json(new { key }), [HttpStatusCode.OK]);
        if (!link.Ok) return false;
        string download;
        using (var json = JsonDocument.Parse(body.AsMemory(0, link.Length)))
            download = json.RootElement.GetProperty("url").GetString()!;
        var got = await SendAsync(Operation.DownloadFromS3, HttpMethod.Get, download, null, [HttpStatusCode.OK]);
        if (got.Ok && !body.AsSpan(0, got.Length).SequenceEqual(upload))
        {
            Fail(Operation.DownloadFromS3, $"the file came back with {got.Length} bytes, not the {upload.Length} uploaded");
            return false;
        }

        return got.Ok;
    }

    /// <summary>The user's tool (or the visualisation): opened through the proxy until it answers, and a websocket to it held, one echo a round.</summary>
    private async Task AppAsync()
    {
        var page = await SendAsync(Operation.ToolPage, HttpMethod.Get, app.ToString(), null, [HttpStatusCode.OK, HttpStatusCode.Accepted]);
        if (!page.Ok) return;
        if (page.Status == (int)HttpStatusCode.Accepted)
        {
            // Starting (its first open, or it was stopped): the progress page, polled as the page polls it.
            var clock = Stopwatch.StartNew();
            var at = script.Log.MillisecondsNow;
            while (true)
            {
                await Task.Delay(250);
                var again = await SendAsync(Operation.ToolPage, HttpMethod.Get, app.ToString(), null, [HttpStatusCode.OK, HttpStatusCode.Accepted], record: false);
                if (!again.Ok) return;
                if (again.Status == (int)HttpStatusCode.OK) break;
                if (stop.IsCancellationRequested) return;
                if (clock.Elapsed > TimeSpan.FromSeconds(90))
                {
                    Record(Operation.ToolStart, at, 0, true, clock.Elapsed);
                    Fail(Operation.ToolStart, "still starting after 90 s");
                    return;
                }
            }

            Record(Operation.ToolStart, at, 200, false, clock.Elapsed);
        }

        if (socket is { State: WebSocketState.Open }) await EchoAsync();
        else await ConnectAsync();
    }

    private async Task ConnectAsync()
    {
        socket?.Dispose();
        socket = new ClientWebSocket();
        var origin = app.GetLeftPart(UriPartial.Authority);
        socket.Options.SetRequestHeader("Origin", origin);
        socket.Options.SetRequestHeader("Cookie", client.Cookies.GetCookieHeader(portal));
        var at = script.Log.MillisecondsNow;
        var clock = Stopwatch.StartNew();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await socket.ConnectAsync(new Uri($"ws://{app.Authority}/ws"), script.WebSockets, timeout.Token);
            Record(Operation.WebSocketConnect, at, 101, false, clock.Elapsed);
            socketGoodAt = script.Log.MillisecondsNow;
        }
        catch (Exception exception) when (exception is WebSocketException or HttpRequestException or OperationCanceledException or IOException)
        {
            var status = socket.HttpStatusCode is var code && code != 0 ? (short)code : (short)0;
            Record(Operation.WebSocketConnect, at, status, true, clock.Elapsed);
            Fail(Operation.WebSocketConnect, Describe(exception));
            socket.Dispose();
            socket = null;
        }
    }

    private async Task EchoAsync()
    {
        var socket = this.socket!;
        var length = Encoding.ASCII.GetBytes($"ping {identity.Index} {round}", echo);
        var at = script.Log.MillisecondsNow;
        var clock = Stopwatch.StartNew();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await socket.SendAsync(echo.AsMemory(0, length), WebSocketMessageType.Text, true, timeout.Token);
            var count = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(received.AsMemory(count), timeout.Token);
                count += result.Count;
            }
            while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close && count < received.Length);

            var same = count == length && received.AsSpan(0, length).SequenceEqual(echo.AsSpan(0, length));
            Record(Operation.WebSocketEcho, at, 0, !same, clock.Elapsed, same ? null : socketGoodAt);
            if (same) socketGoodAt = script.Log.MillisecondsNow;
            if (!same) Fail(Operation.WebSocketEcho, result.MessageType == WebSocketMessageType.Close ? $"closed by the far end ({socket.CloseStatus})" : "the echo differed");
            if (result.MessageType == WebSocketMessageType.Close) socket.Abort();
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or IOException)
        {
            Record(Operation.WebSocketEcho, at, 0, true, clock.Elapsed, socketGoodAt);
            Fail(Operation.WebSocketEcho, Describe(exception));
            socket.Abort();
        }
    }

    private Task<Answer> GetAsync(Operation operation, string path) => SendAsync(operation, HttpMethod.Get, path, null, [HttpStatusCode.OK]);

    private static StringContent Json<T>(T value) => new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

    /// <summary>
    /// Sends one request and reads its whole answer into this user's buffer; logs it. Ok when the status is one of
    /// <paramref name="expected"/> (any 2xx when none is given) and the answer came from the host asked (a redirect to
    /// the identity provider means the session was lost).
    /// </summary>
    private async Task<Answer> SendAsync(Operation operation, HttpMethod method, string target, HttpContent? content, HttpStatusCode[]? expected = null, bool record = true)
    {
        using var request = new HttpRequestMessage(method, target) { Content = content };
        if (target.StartsWith("/api/", StringComparison.Ordinal)) request.Headers.Accept.ParseAdd("application/json");
        var at = script.Log.MillisecondsNow;
        var clock = Stopwatch.StartNew();
        try
        {
            using var response = await client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            var length = await ReadBodyAsync(response.Content);
            var elapsed = clock.Elapsed;
            var status = (int)response.StatusCode;
            var asked = request.RequestUri!.IsAbsoluteUri ? request.RequestUri : new Uri(portal, request.RequestUri);
            var landed = response.RequestMessage?.RequestUri;
            var ok = (expected is null ? response.IsSuccessStatusCode : expected.Contains(response.StatusCode)) && (landed is null || landed.Host == asked.Host);
            if (record) Record(operation, at, (short)status, !ok, elapsed);
            if (status >= 500)
            {
                script.Log.ServerError(new ServerError(at / 1000.0, script.Log.StartedAt.AddMilliseconds(at), operation, method.Method,
                    asked.Host == portal.Host ? asked.PathAndQuery : asked.Authority + asked.AbsolutePath, status, Encoding.UTF8.GetString(body, 0, Math.Min(length, 400)),
                    (float)elapsed.TotalMilliseconds));
            }
            else if (!ok)
            {
                Fail(operation, landed is not null && landed.Host != asked.Host
                    ? $"sent to {landed.Host}{landed.AbsolutePath} ({status})"
                    : $"{status} at {method.Method} {TemplateOf(asked)}: {Snippet(length)}");
            }

            return new Answer(ok, status, length);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or IOException)
        {
            if (record) Record(operation, at, 0, true, clock.Elapsed);
            Fail(operation, Describe(exception));
            return new Answer(false, 0, 0);
        }
    }

    private async Task<int> ReadBodyAsync(HttpContent content)
    {
        await using var stream = await content.ReadAsStreamAsync();
        var length = 0;
        while (true)
        {
            if (length == body.Length)
            {
                if (body.Length >= 8 * 1024 * 1024)
                {
                    // Not expected of any page here: keep the first 8 MB and drain the rest.
                    while (await stream.ReadAsync(body.AsMemory(body.Length - 65536)) > 0) { }
                    return length;
                }

                Array.Resize(ref body, body.Length * 2);
            }

            var read = await stream.ReadAsync(body.AsMemory(length));
            if (read == 0) return length;
            length += read;
        }
    }

    private void Record(Operation operation, int at, short status, bool failed, TimeSpan elapsed, int? since = null)
    {
        // Uncontended but for the report reading a user that is late to stop.
        lock (samples) samples.Add(new Sample(at, operation, status, failed, (float)elapsed.TotalMilliseconds, since ?? at));
        script.Log.Count(status, failed);
    }

    private void Fail(Operation operation, string description) => script.Log.Failure(operation, description);

    private string Snippet(int length) => Encoding.UTF8.GetString(body, 0, Math.Min(length, 160)).ReplaceLineEndings(" ");

    /// <summary>Where a request went, without what varies per user (keys, query ids), so failures of one kind count together.</summary>
    private string TemplateOf(Uri uri) =>
        uri.Host == portal.Host ? Guids().Replace(uri.AbsolutePath, "{id}")
        : uri.Host == app.Host ? "the tool " + uri.AbsolutePath
        : "S3 at " + uri.Authority;

    [System.Text.RegularExpressions.GeneratedRegex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")]
    private static partial System.Text.RegularExpressions.Regex Guids();

    private static string Describe(Exception exception) => exception switch
    {
        TaskCanceledException => "no answer within the client's timeout",
        OperationCanceledException => "no answer within 30 s",
        _ => exception.InnerException is { } inner ? $"{exception.GetType().Name}: {inner.Message}" : $"{exception.GetType().Name}: {exception.Message}",
    };

    private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

    /// <summary>An exponentially distributed pause around the mean (capped at four times it); false when the run stopped.</summary>
    private Task<bool> ThinkAsync(CancellationToken stop) =>
        ThinkAsync(stop, Math.Min(-Math.Log(1 - random.NextDouble()) * script.MeanThink.TotalSeconds, 4 * script.MeanThink.TotalSeconds));

    private static async Task<bool> ThinkAsync(CancellationToken stop, double seconds)
    {
        if (stop.IsCancellationRequested) return false;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(seconds), stop);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        socket?.Dispose();
        client.Dispose();
    }

    private readonly record struct Answer(bool Ok, int Status, int Length);
}
