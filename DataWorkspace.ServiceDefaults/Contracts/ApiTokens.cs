using System.Security.Cryptography;
using System.Text;

namespace DataWorkspace.Contracts;

/// <summary>
/// The scopes a personal API token may carry, one per family of <c>/api/v1</c> endpoints. A token's request to an
/// endpoint whose scope it lacks is refused; an endpoint that names no scope (pages, token management) takes no token.
/// </summary>
public static class ApiScopes
{
    /// <summary>The catalogue: <c>/api/v1/datasets</c>, <c>/api/v1/me/access</c>.</summary>
    public const string CatalogueRead = "catalogue:read";

    /// <summary>The user's files: <c>/api/v1/files/...</c> and <c>/api/v1/aws_credentials</c>.</summary>
    public const string Files = "files";

    /// <summary>The Data Explorer: running and reading queries, <c>/api/v1/explorer/...</c>.</summary>
    public const string Explorer = "explorer";

    /// <summary>The user's tools: list, start and stop, <c>/api/v1/tools/...</c>.</summary>
    public const string Tools = "tools";

    /// <summary>The visualisations the user may see or owns: <c>/api/v1/visualisations/...</c>.</summary>
    public const string Visualisations = "visualisations";

    public static readonly IReadOnlyList<string> All = [CatalogueRead, Files, Explorer, Tools, Visualisations];

    /// <summary>What each scope lets a script do, in the words the token page and the API documents use.</summary>
    public static string Describe(string scope) => scope switch
    {
        CatalogueRead => "Search the catalogue and read datasets' details and your access",
        Files => "List, upload, download, move and delete your files, and get your S3 credentials",
        Explorer => "Run queries in the Data Explorer and read their results, history and saved queries",
        Tools => "List, start and stop your tools",
        Visualisations => "List visualisations and manage the datasets of those you own",
        _ => scope,
    };
}

/// <summary>
/// A personal API token as its holder writes it: <c>dwp_&lt;id&gt;_&lt;secret&gt;</c>, where the id (16 hex digits)
/// finds and revokes it and the secret is 256 random bits (64 hex digits). The prefix lets secret scanners spot a
/// leaked one. The platform keeps only <see cref="Hash"/>, never the text.
/// </summary>
public sealed record ApiTokenText(string Id, string Secret)
{
    public const string Prefix = "dwp_";
    private const int IdLength = 16;
    private const int SecretLength = 64;
    public const int Length = 4 + IdLength + 1 + SecretLength;

    public static ApiTokenText New() => new(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdLength / 2)), Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(SecretLength / 2)));

    /// <summary>The whole token, secret and all: only to show it once to its owner.</summary>
    public string Reveal() => Prefix + Id + "_" + Secret;

    // Never the secret, so a log line or a serialised record cannot leak it by accident.
    public override string ToString() => Prefix + Id + "_...";

    /// <summary>Lower-case hex of SHA-256 over the whole token text: what is stored and compared.</summary>
    public string Hash => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(Reveal())));

    /// <summary>The token in <paramref name="text"/>, or null when it is not one in this format.</summary>
    public static ApiTokenText? Parse(ReadOnlySpan<char> text)
    {
        text = text.Trim();
        if (text.Length != Length || !text.StartsWith(Prefix, StringComparison.Ordinal) || text[Prefix.Length + IdLength] != '_') return null;
        var id = text.Slice(Prefix.Length, IdLength);
        var secret = text[(Prefix.Length + IdLength + 1)..];
        return IsLowerHex(id) && IsLowerHex(secret) ? new ApiTokenText(id.ToString(), secret.ToString()) : null;
    }

    private static bool IsLowerHex(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
            if (c is not (>= '0' and <= '9' or >= 'a' and <= 'f')) return false;
        return true;
    }
}

/// <summary>That the request is made with a personal API token (its id) and what it may do, as the proxy vouches for it.</summary>
public sealed record ApiTokenGrant(string Id, IReadOnlyList<string> Scopes)
{
    /// <summary>The claim the web app's principal carries the token's id in; its scopes are <see cref="ScopeClaim"/> claims.</summary>
    public const string Claim = "api_token";

    public const string ScopeClaim = "scope";
}

/// <summary>
/// The web app's internal API for the proxy to check a personal API token: the web app owns the tokens (their hashes)
/// and the audit log; the proxy sends the id and hash, never the token itself.
/// </summary>
public static class InternalApiTokens
{
    public const string Prefix = "/internal/v1/api-tokens";

    /// <summary>Under <see cref="Prefix"/>: POST an <see cref="ApiTokenCheck"/>, answered with an <see cref="ApiTokenVerdict"/>.</summary>
    public const string Checks = "/checks";

    /// <summary>Where people manage their tokens (a signed-in browser only).</summary>
    public const string Page = "/account/tokens";

    /// <summary>The JSON API for managing tokens (a signed-in browser only: a token cannot create or revoke tokens).</summary>
    public const string ManagementApi = "/api/v1/tokens";
}

/// <summary>A token to check: its id and hash, and the address of the client that sent it (for the audit log).</summary>
public sealed record ApiTokenCheck(string Id, string Hash, string? ClientIp = null);

public enum ApiTokenStatus
{
    Valid,
    Unknown,
    Expired,
    Revoked,
    Deactivated,
}

/// <summary>
/// The web app's answer to an <see cref="ApiTokenCheck"/>: whose token it is and what it may do while
/// <see cref="ApiTokenStatus.Valid"/>, else why not (<paramref name="Detail"/>, in words for the caller).
/// </summary>
public sealed record ApiTokenVerdict(
    ApiTokenStatus Status,
    string Detail,
    string? UserId = null,
    string? Email = null,
    string? Name = null,
    IReadOnlyList<string>? Scopes = null,
    DateTimeOffset? ExpiresAt = null);
