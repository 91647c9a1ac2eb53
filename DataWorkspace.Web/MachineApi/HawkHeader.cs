using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace DataWorkspace.Web.MachineApi;

/// <summary>
/// The parsed <c>Authorization: Hawk ...</c> header and the Hawk 1 MAC over a request
/// (https://github.com/mozilla/hawk, the header scheme with SHA-256).
/// </summary>
public sealed partial record HawkHeader(string Id, long Timestamp, string Nonce, string Mac, string? Hash, string Ext, string? App, string? Dlg)
{
    public const string Scheme = "Hawk";

    private static readonly HashSet<string> Known = ["id", "ts", "nonce", "mac", "hash", "ext", "app", "dlg"];

    /// <summary>The header, or the reason it cannot be used (said so the client's author can fix it).</summary>
    public static (HawkHeader? Header, string? Problem) Parse(string value)
    {
        if (!value.StartsWith(Scheme + " ", StringComparison.OrdinalIgnoreCase))
            return (null, "the Authorization header does not use the Hawk scheme");

        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        var rest = value[(Scheme.Length + 1)..].Trim();
        var position = 0;
        foreach (Match match in Attribute().Matches(rest))
        {
            if (match.Index != position) return (null, "the Hawk header is not a comma-separated list of name=\"value\" attributes");
            position = match.Index + match.Length;
            var name = match.Groups["name"].Value;
            if (!Known.Contains(name)) return (null, $"the Hawk header has an unknown attribute '{name}'");
            if (!attributes.TryAdd(name, match.Groups["value"].Value)) return (null, $"the Hawk header repeats the attribute '{name}'");
        }

        if (position != rest.Length || attributes.Count == 0)
            return (null, "the Hawk header is not a comma-separated list of name=\"value\" attributes");
        foreach (var required in new[] { "id", "ts", "nonce", "mac" })
            if (!attributes.ContainsKey(required)) return (null, $"the Hawk header has no '{required}' attribute");
        if (!long.TryParse(attributes["ts"], NumberStyles.None, CultureInfo.InvariantCulture, out var ts))
            return (null, "the Hawk 'ts' attribute is not a whole number of seconds since 1970-01-01 UTC");
        if (attributes["nonce"].Length is 0 or > 128) return (null, "the Hawk 'nonce' attribute must be 1 to 128 characters");

        return (new HawkHeader(attributes["id"], ts, attributes["nonce"], attributes["mac"], attributes.GetValueOrDefault("hash"),
            attributes.GetValueOrDefault("ext") ?? "", attributes.GetValueOrDefault("app"), attributes.GetValueOrDefault("dlg")), null);
    }

    /// <summary>The normalized request string of Hawk 1 ("hawk.1.header"), the MAC's input.</summary>
    public string Normalized(string method, string pathAndQuery, string host, int port)
    {
        var text = new StringBuilder()
            .Append("hawk.1.header\n")
            .Append(Timestamp.ToString(CultureInfo.InvariantCulture)).Append('\n')
            .Append(Nonce).Append('\n')
            .Append(method.ToUpperInvariant()).Append('\n')
            .Append(pathAndQuery).Append('\n')
            .Append(host.ToLowerInvariant()).Append('\n')
            .Append(port.ToString(CultureInfo.InvariantCulture)).Append('\n')
            .Append(Hash ?? "").Append('\n')
            .Append(Ext.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
        if (App is not null) text.Append(App).Append('\n').Append(Dlg ?? "").Append('\n');
        return text.ToString();
    }

    public static string ComputeMac(byte[] key, string normalized) =>
        Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(normalized)));

    /// <summary>Compares in constant time, so the response time does not reveal how much of a guessed MAC was right.</summary>
    public static bool MacsEqual(string expected, string presented) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(presented));

    /// <summary>The payload hash of Hawk 1: SHA-256 over the content type (no parameters, lowercased) and the body.</summary>
    public static string PayloadHash(string? contentType, ReadOnlySpan<byte> body)
    {
        var mime = (contentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"hawk.1.payload\n{mime}\n"));
        hash.AppendData(body);
        hash.AppendData("\n"u8);
        return Convert.ToBase64String(hash.GetHashAndReset());
    }

    /// <summary>The <c>tsm</c> a stale-timestamp challenge carries, so the client can trust the server time it resyncs to.</summary>
    public static string TimestampMac(byte[] key, long serverTimestamp) =>
        ComputeMac(key, $"hawk.1.ts\n{serverTimestamp.ToString(CultureInfo.InvariantCulture)}\n");

    [GeneratedRegex("""\s*,?\s*(?<name>[a-z]+)="(?<value>[\w!#$%&'()*+,\-./:;<=>?@\[\]^`{|}~ ]*)"\s*""")]
    private static partial Regex Attribute();
}
