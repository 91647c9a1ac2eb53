using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace DataWorkspace.Contracts;

/// <summary>
/// The proxy -> web identity contract: a compact token <c>v1.&lt;payload&gt;.&lt;mac&gt;</c> where the payload is
/// base64url JSON (sub, email, name, roles, ip, aud, iat, exp, and tok: the personal API token's id and scopes when
/// one was used) and the mac is HMAC-SHA256 over <c>v1.&lt;payload&gt;</c>
/// with a key both sides read from configuration. Both sides use this one class, so the format cannot drift.
/// </summary>
public sealed class IdentityToken(IdentitySigningKey key, TimeProvider time)
{
    public const string Audience = "dataworkspace-web";

    /// <summary>The audience of the proxy's own service identity for the web app's internal API (never a user's).</summary>
    public const string InternalAudience = "dataworkspace-internal";

    /// <summary>The proxy's service identity's user id, in tokens for <see cref="InternalAudience"/>.</summary>
    public const string ProxyService = "service:proxy";
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(5);
    private const string Version = "v1.";
    private const int MaxTokenLength = 8 * 1024;

    public string Issue(PlatformIdentity identity) => Issue(identity, Audience);

    /// <summary>The proxy's service identity, for the web app's internal API.</summary>
    public string IssueService() => Issue(new PlatformIdentity(ProxyService, "", "Data Workspace proxy", [], ""), InternalAudience);

    public IdentityVerification Verify(string? token) => Verify(token, Audience);

    /// <summary>Whether <paramref name="token"/> is the proxy's own service identity.</summary>
    public IdentityVerification VerifyService(string? token) =>
        Verify(token, InternalAudience) is { Identity.UserId: ProxyService } verified ? verified : IdentityVerification.Fail("the proxy's service identity is missing or not valid");

    private string Issue(PlatformIdentity identity, string audience)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var json = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            writer.WriteString("sub", identity.UserId);
            writer.WriteString("email", identity.Email);
            writer.WriteString("name", identity.Name);
            writer.WriteStartArray("roles");
            foreach (var role in identity.Roles) writer.WriteStringValue(role);
            writer.WriteEndArray();
            writer.WriteString("ip", identity.ClientIp);
            if (identity.ApiToken is { } apiToken)
            {
                writer.WriteStartObject("tok");
                writer.WriteString("id", apiToken.Id);
                writer.WriteStartArray("scp");
                foreach (var scope in apiToken.Scopes) writer.WriteStringValue(scope);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteString("aud", audience);
            writer.WriteNumber("iat", now);
            writer.WriteNumber("exp", now + (long)Lifetime.TotalSeconds);
            writer.WriteEndObject();
        }

        var signedPart = Version + Base64Url.EncodeToString(json.WrittenSpan);
        return signedPart + "." + Base64Url.EncodeToString(Mac(signedPart));
    }

    private IdentityVerification Verify(string? token, string audience)
    {
        if (string.IsNullOrEmpty(token)) return IdentityVerification.Fail("no identity was presented");
        if (token.Length > MaxTokenLength || !token.StartsWith(Version, StringComparison.Ordinal))
            return IdentityVerification.Fail("the identity is not in the expected format");

        var lastDot = token.LastIndexOf('.');
        if (lastDot <= Version.Length) return IdentityVerification.Fail("the identity is not in the expected format");

        var signedPart = token[..lastDot];
        Span<byte> presentedMac = stackalloc byte[64];
        if (!Base64Url.TryDecodeFromChars(token.AsSpan(lastDot + 1), presentedMac, out var macLength)
            || !CryptographicOperations.FixedTimeEquals(presentedMac[..macLength], Mac(signedPart)))
            return IdentityVerification.Fail("the identity's signature is not valid");

        PlatformIdentity identity;
        long issuedAt, expiresAt;
        try
        {
            var payload = Base64Url.DecodeFromChars(signedPart.AsSpan(Version.Length));
            using var document = JsonDocument.Parse(payload);
            var root = document.RootElement;
            if (root.GetProperty("aud").GetString() != audience)
                return IdentityVerification.Fail("the identity was issued for another audience");
            issuedAt = root.GetProperty("iat").GetInt64();
            expiresAt = root.GetProperty("exp").GetInt64();
            identity = new PlatformIdentity(
                UserId: root.GetProperty("sub").GetString() ?? "",
                Email: root.GetProperty("email").GetString() ?? "",
                Name: root.GetProperty("name").GetString() ?? "",
                Roles: [.. root.GetProperty("roles").EnumerateArray().Select(role => role.GetString() ?? "")],
                ClientIp: root.GetProperty("ip").GetString() ?? "",
                ApiToken: root.TryGetProperty("tok", out var apiToken)
                    ? new ApiTokenGrant(apiToken.GetProperty("id").GetString() ?? "", [.. apiToken.GetProperty("scp").EnumerateArray().Select(scope => scope.GetString() ?? "")])
                    : null);
        }
        catch (Exception exception) when (exception is FormatException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return IdentityVerification.Fail("the identity's contents are not valid");
        }

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        if (expiresAt - issuedAt > (long)Lifetime.TotalSeconds)
            return IdentityVerification.Fail("the identity claims a longer lifetime than allowed");
        if (issuedAt > now + (long)ClockSkew.TotalSeconds)
            return IdentityVerification.Fail("the identity was issued in the future");
        if (expiresAt < now - (long)ClockSkew.TotalSeconds)
            return IdentityVerification.Fail("the identity has expired");
        if (identity.UserId.Length == 0)
            return IdentityVerification.Fail("the identity names no user");

        return IdentityVerification.Success(identity);
    }

    private byte[] Mac(string signedPart) => HMACSHA256.HashData(key.Bytes, Encoding.ASCII.GetBytes(signedPart));
}

public readonly record struct IdentityVerification(PlatformIdentity? Identity, string? Failure)
{
    public static IdentityVerification Success(PlatformIdentity identity) => new(identity, null);
    public static IdentityVerification Fail(string reason) => new(null, reason);
}

/// <summary>The shared secret behind <see cref="IdentityToken"/>: at least 32 random bytes, given base64-encoded.</summary>
public sealed class IdentitySigningKey
{
    public const int MinimumBytes = 32;

    public IdentitySigningKey(string base64Key)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(base64Key);
        }
        catch (FormatException)
        {
            throw new ArgumentException("The identity signing key must be base64-encoded.", nameof(base64Key));
        }

        if (bytes.Length < MinimumBytes)
            throw new ArgumentException($"The identity signing key must be at least {MinimumBytes} bytes; it is {bytes.Length}.", nameof(base64Key));
        Bytes = bytes;
    }

    public byte[] Bytes { get; }
}
