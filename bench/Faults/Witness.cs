using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DataWorkspace.TestSupport;

namespace DataWorkspace.Bench.Faults;

/// <summary>One HTTP exchange a witness had: when, what it was for, the status (0: no answer) and what the page said.</summary>
internal sealed record Exchange(DateTimeOffset At, string Kind, int Status, string Seen, bool Ok);

/// <summary>A whole action a witness was told succeeded (an access request sent, a file uploaded), with what identifies it.</summary>
internal sealed record Done(DateTimeOffset At, string User, string Kind, string Item);

/// <summary>Everything the witnesses did and were told.</summary>
internal sealed class Ledger
{
    public ConcurrentQueue<Exchange> Exchanges { get; } = new();
    public ConcurrentQueue<Done> Done { get; } = new();
    public int Attempts;

    public void Record(Exchange exchange) => Exchanges.Enqueue(exchange);
}

/// <summary>
/// A signed-in user of the plan's own. Each round: the home page, then an access request (four steps of forms) or a file
/// upload (presigned form, the POST to S3, the confirmation), alternately. Requests go to either proxy replica in turn;
/// one that cannot be connected to is taken out for that request and the other tried, as a load balancer does.
/// </summary>
internal sealed partial class Witness : IDisposable
{
    private static readonly TimeSpan PageTimeout = TimeSpan.FromSeconds(15);
    // The web app's own S3 calls retry for up to three 30-second attempts before it answers.
    private static readonly TimeSpan FilesApiTimeout = TimeSpan.FromSeconds(100);
    private readonly PortalClient client;
    private readonly IReadOnlyList<Uri> portals;
    // The files page sets no timeout on its POST to S3: it waits for as long as S3 takes.
    private readonly HttpClient s3 = new() { Timeout = TimeSpan.FromSeconds(120) };
    private int next;
    private int uploads;

    private Witness(string email, PortalClient client, IReadOnlyList<Uri> portals) => (Email, this.client, this.portals) = (email, client, portals);

    public string Email { get; }
    public string UserId { get; private set; } = "";
    public string FilesPrefix { get; private set; } = "";
    public string Bucket { get; private set; } = "";

    public static async Task<Witness> SignInAsync(RunningPlatform platform, IReadOnlyList<Uri> portals, string email, string run, CancellationToken ct)
    {
        using var signIn = platform.Client();
        await signIn.SignInAsync(email, cancellationToken: ct);
        var client = new PortalClient(platform.PortalUrl, followRedirects: false);
        client.Cookies.Add(signIn.Cookies.GetAllCookies());
        var witness = new Witness(email, client, portals);
        witness.UserId = (await platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", email))
            ?? throw new InvalidOperationException($"{email} signed in but is not in the users table");
        var roots = JsonDocument.Parse(await client.Http.GetStringAsync("/api/v1/files/roots", ct)).RootElement;
        witness.Bucket = roots.GetProperty("bucket").GetString()!;
        var home = roots.GetProperty("roots").EnumerateArray().First(root => root.GetProperty("kind").GetString() == "home").GetProperty("prefix").GetString()!;
        witness.FilesPrefix = $"{home}faults-{run}/";
        return witness;
    }

    public async Task RunAsync(Ledger ledger, Func<string?> nextDataset, CancellationToken stop)
    {
        var round = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await PageAsync(ledger, stop);
                if (round++ % 2 == 0)
                {
                    if (nextDataset() is { } slug) await AccessRequestAsync(ledger, slug, stop);
                }
                else
                {
                    await UploadAsync(ledger, stop);
                }

                await Task.Delay(300, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }
    }

    private async Task PageAsync(Ledger ledger, CancellationToken stop)
    {
        var (response, seen) = await SendAsync(ledger, "page", portal => new HttpRequestMessage(HttpMethod.Get, new Uri(portal, "/")), PageTimeout, stop);
        response?.Dispose();
        _ = seen;
    }

    /// <summary>The four steps of asking for access; told it succeeded when the last answers with the request's id.</summary>
    private async Task AccessRequestAsync(Ledger ledger, string slug, CancellationToken stop)
    {
        Interlocked.Increment(ref ledger.Attempts);
        var page = $"/datasets/{slug}/request-access";
        var (response, body) = await SendAsync(ledger, "access-request", portal => new HttpRequestMessage(HttpMethod.Get, new Uri(portal, page)), PageTimeout, stop);
        using (response)
            if (response?.StatusCode != HttpStatusCode.OK) return;
        (response, body) = await SendAsync(ledger, "access-request", portal => Form(portal, page + "?handler=Eligibility", body, ("meets", "yes")), PageTimeout, stop);
        using (response)
            if (response?.StatusCode != HttpStatusCode.OK) return;
        (response, body) = await SendAsync(ledger, "access-request", portal => Form(portal, page + "?handler=Details", body,
            ("Eligible", "true"), ("Reason", "Checking that nothing is lost while the platform fails"), ("Months", "1")), PageTimeout, stop);
        using (response)
            if (response?.StatusCode != HttpStatusCode.OK) return;
        (response, _) = await SendAsync(ledger, "access-request", portal => Form(portal, page + "?handler=Confirm", body,
            ("Eligible", "true"), ("Reason", "Checking that nothing is lost while the platform fails"), ("Months", "1")), PageTimeout, stop);
        using (response)
        {
            var location = response?.Headers.Location?.ToString() ?? "";
            if (response?.StatusCode == HttpStatusCode.Redirect && location.StartsWith("/requests?sent=", StringComparison.Ordinal))
                ledger.Done.Enqueue(new Done(DateTimeOffset.UtcNow, Email, "access-request", location["/requests?sent=".Length..]));
        }
    }

    /// <summary>As the files page uploads: a presigned form from the web app, the bytes straight to S3, then the confirmation (audited).</summary>
    private async Task UploadAsync(Ledger ledger, CancellationToken stop)
    {
        Interlocked.Increment(ref ledger.Attempts);
        var key = $"{FilesPrefix}{Email[..Email.IndexOf('@')]}-{Interlocked.Increment(ref uploads)}.csv";
        var bytes = Encoding.UTF8.GetBytes($"key,written\n{key},{DateTimeOffset.UtcNow:O}\n");
        var (response, body) = await SendAsync(ledger, "upload", portal => Json(portal, "/api/v1/files/uploads",
            new { files = new[] { new { key, size = bytes.Length, contentType = "text/csv" } } }), FilesApiTimeout, stop);
        using (response)
            if (response?.StatusCode != HttpStatusCode.OK) return;
        var forms = JsonDocument.Parse(body).RootElement;
        using var form = new MultipartFormDataContent();
        foreach (var field in forms.GetProperty("fields").EnumerateObject().Concat(forms.GetProperty("uploads")[0].GetProperty("fields").EnumerateObject()))
            form.Add(new StringContent(field.Value.GetString()!), field.Name);
        form.Add(new ByteArrayContent(bytes), "file", "file");
        using var post = new HttpRequestMessage(HttpMethod.Post, forms.GetProperty("url").GetString()) { Content = form };
        post.Headers.TryAddWithoutValidation("Origin", Origin);
        var at = DateTimeOffset.UtcNow;
        try
        {
            using var stored = await s3.SendAsync(post, stop);
            var waited = DateTimeOffset.UtcNow - at;
            var seen = !stored.IsSuccessStatusCode ? "S3 refused the upload"
                : waited > TimeSpan.FromSeconds(5) ? $"S3 answered only after {waited.TotalSeconds:0} s (the files page says so after 30 s and tries again)" : "";
            ledger.Record(new Exchange(at, "upload", (int)stored.StatusCode, seen, stored.IsSuccessStatusCode));
            if (!stored.IsSuccessStatusCode) return;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !stop.IsCancellationRequested)
        {
            ledger.Record(new Exchange(at, "upload", 0, exception is TaskCanceledException ? "S3 did not answer within 120 s" : "S3 refused the connection", false));
            return;
        }

        (response, _) = await SendAsync(ledger, "upload", portal => Json(portal, "/api/v1/files/uploads/done", new { keys = new[] { key } }), FilesApiTimeout, stop);
        using (response)
            if (response?.StatusCode == HttpStatusCode.OK)
                ledger.Done.Enqueue(new Done(DateTimeOffset.UtcNow, Email, "upload", key));
    }

    /// <summary>Opens a URL on one replica (the other when it cannot be connected to); records the exchange; returns the response and its text.</summary>
    public async Task<(HttpResponseMessage? Response, string Body)> SendAsync(Ledger ledger, string kind, Func<Uri, HttpRequestMessage> make, TimeSpan timeout, CancellationToken stop)
    {
        var first = Interlocked.Increment(ref next);
        for (var attempt = 0; ; attempt++)
        {
            var portal = portals[(first + attempt) % portals.Count];
            using var request = make(portal);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stop);
            deadline.CancelAfter(timeout);
            var at = DateTimeOffset.UtcNow;
            try
            {
                var response = await client.Http.SendAsync(request, deadline.Token);
                var body = await response.Content.ReadAsStringAsync(deadline.Token);
                var ok = (int)response.StatusCode < 400;
                var plain = response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Redirect or HttpStatusCode.NoContent;
                ledger.Record(new Exchange(at, kind, (int)response.StatusCode, plain ? "" : Describe(response, body), ok));
                return (response, body);
            }
            catch (HttpRequestException exception) when (exception.HttpRequestError == HttpRequestError.ConnectionError && attempt + 1 < portals.Count)
            {
                // The load balancer's health check would have taken this replica out: the request goes to the other.
            }
            catch (HttpRequestException exception)
            {
                ledger.Record(new Exchange(at, kind, 0, $"no answer ({exception.HttpRequestError})", false));
                return (null, "");
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                ledger.Record(new Exchange(at, kind, 0, $"no answer within {timeout.TotalSeconds:0} s", false));
                return (null, "");
            }
        }
    }

    /// <summary>What a user reads on an error answer: the page's heading, or a problem's title.</summary>
    public static string Describe(HttpResponseMessage response, string body)
    {
        if (response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) == true)
        {
            try
            {
                var problem = JsonDocument.Parse(body).RootElement;
                if (problem.TryGetProperty("title", out var title)) return "problem: " + title.GetString();
            }
            catch (JsonException)
            {
            }
        }

        var heading = Heading().Match(body);
        var text = heading.Success ? heading.Groups[1].Value : Title().Match(body).Groups[1].Value;
        text = WebUtility.HtmlDecode(Tags().Replace(text, "")).Trim();
        return text.Length == 0 ? "(no heading)" : text[..Math.Min(text.Length, 100)];
    }

    private HttpRequestMessage Form(Uri portal, string path, string page, params (string Name, string Value)[] fields)
    {
        var token = AntiforgeryToken().Match(page);
        var values = fields.Select(field => new KeyValuePair<string, string>(field.Name, field.Value))
            .Append(new("__RequestVerificationToken", WebUtility.HtmlDecode(token.Groups[1].Value)));
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(portal, path)) { Content = new FormUrlEncodedContent(values) };
        request.Headers.TryAddWithoutValidation("Origin", Origin);
        return request;
    }

    private HttpRequestMessage Json(Uri portal, string path, object value)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(portal, path)) { Content = JsonContent.Create(value) };
        request.Headers.TryAddWithoutValidation("Origin", Origin);
        request.Headers.Accept.ParseAdd("application/json");
        return request;
    }

    public PortalClient Client => client;

    /// <summary>The portal's public origin: behind a load balancer both replicas answer at the same one, which the portal checks POSTs against.</summary>
    private string Origin => portals[0].GetLeftPart(UriPartial.Authority);

    public void Dispose()
    {
        client.Dispose();
        s3.Dispose();
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"")]
    private static partial Regex AntiforgeryToken();

    [GeneratedRegex("<h1[^>]*>(.*?)</h1>", RegexOptions.Singleline)]
    private static partial Regex Heading();

    [GeneratedRegex("<title>(.*?)</title>", RegexOptions.Singleline)]
    private static partial Regex Title();

    [GeneratedRegex("<[^>]+>")]
    private static partial Regex Tags();
}
