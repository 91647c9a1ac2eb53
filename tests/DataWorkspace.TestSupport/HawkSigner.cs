using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace DataWorkspace.TestSupport;

/// <summary>
/// Signs requests as a Hawk client does, written from the Hawk spec and not from the server's code, so a mistake the
/// two shared could not pass unnoticed.
/// </summary>
public sealed class HawkSigner(string id, string base64Key)
{
    public string Id => id;
    public string Key => base64Key;

    /// <summary>The Authorization header value for <paramref name="method"/> on the absolute <paramref name="uri"/>.</summary>
    public string Authorization(HttpMethod method, Uri uri, long? timestamp = null, string? nonce = null, string? host = null, int? port = null)
    {
        var ts = (timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds()).ToString(CultureInfo.InvariantCulture);
        nonce ??= Convert.ToHexString(RandomNumberGenerator.GetBytes(9));
        string[] lines =
        [
            "hawk.1.header", ts, nonce, method.Method.ToUpperInvariant(), uri.PathAndQuery,
            (host ?? uri.Host).ToLowerInvariant(), (port ?? uri.Port).ToString(CultureInfo.InvariantCulture), "", "",
        ];
        using var hmac = new HMACSHA256(Convert.FromBase64String(base64Key));
        var mac = Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n")));
        return $"Hawk id=\"{id}\", ts=\"{ts}\", nonce=\"{nonce}\", mac=\"{mac}\"";
    }

    /// <summary>A signed GET of <paramref name="uri"/>.</summary>
    public HttpRequestMessage Get(Uri uri, long? timestamp = null, string? nonce = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.TryAddWithoutValidation("Authorization", Authorization(HttpMethod.Get, uri, timestamp, nonce));
        return request;
    }

    /// <summary>What a stale-timestamp challenge's <c>tsm</c> must be for <paramref name="serverTimestamp"/>, if the server holds this key.</summary>
    public string TimestampMac(string serverTimestamp)
    {
        using var hmac = new HMACSHA256(Convert.FromBase64String(base64Key));
        return Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes($"hawk.1.ts\n{serverTimestamp}\n")));
    }

    public static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
}
