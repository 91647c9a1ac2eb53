using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using DataWorkspace.TestSupport;

namespace DataWorkspace.Bench.Fuzz;

/// <summary>
/// Malformed S3 keys at the files API (Tom's): <c>..</c>, encoded escapes, other users' hashes, Unicode forms,
/// control characters, overlong keys, sent to each route that takes a key. A 4xx is right for a key that is malformed or
/// not his; a 5xx never is, nor any key or presigned URL in an answer outside his own roots.
/// </summary>
public sealed class FilesFuzz(Tally tally, Mutator mutator, IReadOnlyList<string> roots, string otherHome)
{
    private const int Workers = 4;
    private string Home => roots[0];

    private List<string> Seeds() =>
    [
        $"{Home}report.csv", $"{Home}dir/sub/file.txt", $"{Home}dir/", $"{Home}d\u00e9j\u00e0 vu.txt", $"{otherHome}secret.csv", $"{otherHome}", "teams/other-team/x.csv",
        .. roots.Skip(1).Select(root => root + "team.csv"),
    ];

    private List<string> Known()
    {
        var hash = Home["home/".Length..^1];
        return
        [
            "", "/", "home/", Home, Home[..^1], $"/{Home}a.csv", $"{Home}../{otherHome["home/".Length..]}secret.csv", $"{Home}%2e%2e/%2e%2e/{otherHome}a",
            $"{Home}..%2f..%2fx", $"{Home}..\\..\\x", $"{Home}\\x", $"{Home}a/../b", $"{Home}./a", $"{Home}a//b", $"{Home}a\0b", $"{Home}a\u0001", $"{Home}a\u007f",
            $"{Home}a\u0085", $"{Home}a\u2028b", $"{Home}a\u202Egpj.exe", $"{Home}a\u200D", $"{Home}de\u0301ja\u0300 vu.txt", $"{Home}\uFF0E\uFF0E\uFF0F{otherHome}",
            $"{Home}\u2025/x", $"{Home}a ", $"{Home}a.", $"{Home}.", $"{Home}..", $"{Home}" + new string('a', 256), $"{Home}" + string.Join('/', Enumerable.Repeat(new string('b', 200), 6)),
            $"{Home}" + string.Concat(Enumerable.Repeat("\U0001F600", 300)), $"HOME/{hash}/a.csv", $"home/{hash.ToUpperInvariant()}/a.csv", $"home/{hash}x/a.csv",
            $"home/{hash}", $"home//{hash}/a.csv", $"home/{hash}/\t", $"{otherHome}a.csv", $"{otherHome}", $"teams/", "teams/../home/", $"{Home}%00", $"{Home}%zz",
            $"{Home}a%", $"{Home}%E2%80%AE", $"{Home}?x=1", $"{Home}#frag", $"{Home}a;b", $"{Home}{{}}", $"{Home}$(id)", $"{Home}`id`", $"{Home}' OR '1'='1", "\uFEFF" + Home + "a",
            new string('x', 100_000),
        ];
    }

    /// <summary>Puts a few files under Tom's home through the API's own presigned forms, so that downloads and moves have something to find.</summary>
    public async Task SetUpAsync(PortalClient tom, CancellationToken cancellationToken)
    {
        var keys = new[] { $"{Home}report.csv", $"{Home}dir/sub/file.txt", $"{Home}d\u00e9j\u00e0 vu.txt" };
        using var response = await tom.Http.PostAsJsonAsync("/api/v1/files/uploads", new { files = keys.Select(key => new { key, size = 5, contentType = "text/plain" }) }, cancellationToken);
        response.EnsureSuccessStatusCode();
        var forms = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        using var s3 = new HttpClient();
        foreach (var upload in forms.GetProperty("uploads").EnumerateArray())
        {
            using var form = new MultipartFormDataContent();
            foreach (var field in forms.GetProperty("fields").EnumerateObject().Concat(upload.GetProperty("fields").EnumerateObject()))
                form.Add(new StringContent(field.Value.GetString()!), field.Name);
            form.Add(new ByteArrayContent("hello"u8.ToArray()), "file", "file");
            using var sent = await s3.PostAsync(forms.GetProperty("url").GetString(), form, cancellationToken);
            if (!sent.IsSuccessStatusCode) throw new InvalidOperationException($"S3 refused the upload of {upload.GetProperty("key")}: {(int)sent.StatusCode} {await sent.Content.ReadAsStringAsync(cancellationToken)}");
        }
    }

    public async Task RunAsync(PortalClient tom, TimeSpan duration, int maxCases, CancellationToken cancellationToken)
    {
        var until = DateTime.UtcNow + duration;
        var known = Known();
        var seeds = Seeds();
        var routes = Enum.GetValues<Route>();
        var next = 0;
        var generate = new Lock();
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            while (DateTime.UtcNow < until && !cancellationToken.IsCancellationRequested)
            {
                string key;
                Route route;
                string name;
                lock (generate)
                {
                    if (next >= maxCases) return;
                    var index = next++;
                    // Every known key goes to every route once; then mutated seeds to a random route.
                    if (index < known.Count * routes.Length)
                    {
                        (key, route, name) = (known[index / routes.Length], routes[index % routes.Length], "known");
                    }
                    else
                    {
                        key = mutator.Pick(seeds);
                        for (var i = mutator.Next(1, 3); i > 0; i--) key = mutator.Mutate(key);
                        (route, name) = (mutator.Pick(routes), "mutated");
                    }
                }
                await OneAsync(tom, $"{name} {route}", route, key, cancellationToken);
            }
        }, cancellationToken)));
    }

    private enum Route { Uploads, Existing, Download, Preview, List, Count, Folder, Multipart, Move, MoveInto, Delete, ListRawQuery }

    private async Task OneAsync(PortalClient tom, string name, Route route, string key, CancellationToken cancellationToken)
    {
        tally.Sending();
        var folder = key.EndsWith('/') ? key : key + "/";
        var (method, path, body) = route switch
        {
            Route.Uploads => ("POST", "uploads", Json(new { files = new[] { new { key = Placeholder, size = 10, contentType = "text/csv" } } })),
            Route.Existing => ("POST", "uploads/existing", Json(new { keys = new[] { Placeholder } })),
            Route.Download => ("POST", "download", Json(new { key = Placeholder })),
            Route.Preview => ("POST", "preview", Json(new { key = Placeholder })),
            Route.List => ("GET", $"list?prefix={Escape(folder)}", null),
            Route.Count => ("GET", $"count?prefix={Escape(folder)}", null),
            Route.Folder => ("POST", "folders", Json(new { prefix = Placeholder })),
            Route.Multipart => ("POST", "multipart", Json(new { key = Placeholder, size = 100_000_000 })),
            Route.Move => ("POST", "move", Json(new { from = $"{Home}report.csv", to = Placeholder })),
            Route.MoveInto => ("POST", "move", Json(new { from = Placeholder, to = $"{Home}moved/x.csv" })),
            Route.Delete => ("POST", "delete", Json(new { keys = new[] { Placeholder } })),
            _ => ("GET", "list?prefix=" + mutator.Pick(new[] { "%zz", "%00", "%C0%AF", "%ED%A0%80", "%FF", "%", Escape(Home) + "%2e%2e%2f", Escape(Home) + "%E2%80%AE/" }), null),
        };
        // Strings the serialiser cannot write (lone surrogates) are escaped by hand.
        if (body is not null) body = body.Replace(Placeholder, JsonString(route == Route.Folder ? folder : key), StringComparison.Ordinal);
        var input = $"{method} /api/v1/files/{path}\n{body}";
        try
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), $"/api/v1/files/{path}");
            if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await tom.Http.SendAsync(request, cancellationToken);
            var status = (int)response.StatusCode;
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            tally.Outcome($"{status / 100}xx");
            if (status >= 500) tally.Found("5xx", name, $"{status}: {text[..Math.Min(text.Length, 400)]}", input);
            else if (status is >= 200 and < 300 && Outside(text) is { } outside)
                tally.Found("outside", name, $"{status} names '{outside}', outside Tom's roots ({string.Join(", ", roots)})", input);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            tally.Outcome("no answer");
            tally.Found("5xx", name, $"no answer: {exception.Message}", input);
        }
    }

    private const string Placeholder = "\u0001KEY\u0001";

    private static string Json(object value) => JsonSerializer.Serialize(value).Replace(JsonSerializer.Serialize(Placeholder)[1..^1], Placeholder, StringComparison.Ordinal);

    private static string JsonString(string value)
    {
        var text = new StringBuilder();
        foreach (var c in value)
        {
            if (c is '"' or '\\') text.Append('\\').Append(c);
            else if (c < ' ' || char.IsSurrogate(c) || c > '~') text.Append($"\\u{(int)c:x4}");
            else text.Append(c);
        }
        return text.ToString();
    }

    private static string Escape(string value)
    {
        var text = new StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            // A lone surrogate has no UTF-8: sent as the bytes of U+FFFD would be, which is what a browser does.
            if (char.IsSurrogate(value[i]) && !(char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])))
                text.Append("%EF%BF%BD");
            else if (char.IsHighSurrogate(value[i]))
            {
                text.Append(Uri.EscapeDataString(value.Substring(i, 2)));
                i++;
            }
            else text.Append(Uri.EscapeDataString(value[i].ToString()));
        }
        return text.ToString();
    }

    /// <summary>The first key, prefix or presigned URL's key in a JSON answer that lies outside Tom's roots, if any.</summary>
    private string? Outside(string json)
    {
        using var document = JsonDocument.Parse(json);
        return Walk(document.RootElement, null);

        string? Walk(JsonElement element, string? property)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var child in element.EnumerateObject())
                        if (Walk(child.Value, child.Name) is { } found) return found;
                    return null;
                case JsonValueKind.Array:
                    foreach (var child in element.EnumerateArray())
                        if (Walk(child, property) is { } found) return found;
                    return null;
                case JsonValueKind.String when property is "key" or "prefix" or "from" or "to":
                    var key = element.GetString()!;
                    return key.Length == 0 || roots.Any(root => key.StartsWith(root, StringComparison.Ordinal)) ? null : key;
                case JsonValueKind.String when property is "url" && Uri.TryCreate(element.GetString(), UriKind.Absolute, out var url) && url.Query.Length > 0:
                    // Path-style: /<bucket>/<key>; a presigned POST's URL is the bucket alone (its key is a field).
                    var segments = url.AbsolutePath.TrimStart('/').Split('/', 2);
                    if (segments.Length < 2 || segments[1].Length == 0) return null;
                    var urlKey = Uri.UnescapeDataString(segments[1]);
                    return roots.Any(root => urlKey.StartsWith(root, StringComparison.Ordinal)) ? null : urlKey;
                default:
                    return null;
            }
        }
    }
}
