using System.Text.Json;

namespace DataWorkspace.TestSupport;

/// <summary>
/// A real tool that uses S3 as tools do: a Python process with boto3 that is given nothing but the environment its
/// launcher gives it. Each call runs one S3 operation in the tool and returns what the tool saw.
/// </summary>
public static class S3Tool
{
    /// <summary>The script; run it as <c>python3 &lt;script&gt; {port}</c>.</summary>
    public static string Script => Path.Combine(AppContext.BaseDirectory, "Tools", "s3_tool.py");

    /// <summary>The web app's settings that make it the only tool template, "s3tool", as the Local launcher runs it.</summary>
    public static IReadOnlyList<(string Key, string Value)> TemplateSettings =>
    [
        ("Tools:SpawnTimeout", "00:00:30"),
        ("Tools:Templates:0:Name", "Files tool"),
        ("Tools:Templates:0:HostBasename", "s3tool"),
        ("Tools:Templates:0:Command:0", "python3"),
        ("Tools:Templates:0:Command:1", Script),
        ("Tools:Templates:0:Command:2", "{port}"),
        ("Tools:Templates:0:DefaultSize", "Small"),
    ];

    /// <summary>Runs <paramref name="operation"/> (put, get, list, copy, delete, environment) in the tool at <paramref name="address"/>.</summary>
    public static async Task<S3ToolAnswer> AskAsync(HttpClient http, Uri address, string operation, CancellationToken cancellationToken, params (string Name, string Value)[] arguments)
    {
        var query = string.Join('&', arguments.Select(a => $"{a.Name}={Uri.EscapeDataString(a.Value)}"));
        var answer = JsonDocument.Parse(await http.GetStringAsync(new Uri(address, $"/{operation}?{query}"), cancellationToken)).RootElement.Clone();
        return new S3ToolAnswer(answer);
    }
}

/// <summary>What the tool answered: whether S3 allowed it, S3's error code otherwise, and the access keys it signed with.</summary>
public sealed record S3ToolAnswer(JsonElement Json)
{
    public bool Ok => Json.GetProperty("ok").GetBoolean();
    public string? Error => Json.TryGetProperty("error", out var error) ? error.GetString() : null;
    public string? Message => Json.TryGetProperty("message", out var message) ? message.GetString() : null;
    public IReadOnlyList<string> AccessKeys => [.. Json.GetProperty("accessKeys").EnumerateArray().Select(k => k.GetString()!)];
    public IReadOnlyList<string> Keys => [.. Json.GetProperty("keys").EnumerateArray().Select(k => k.GetString()!)];
    public string Body => Json.GetProperty("body").GetString()!;
    public IReadOnlyDictionary<string, string> Environment =>
        Json.GetProperty("environment").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);

    public override string ToString() => Json.ToString();
}
