namespace DataWorkspace.Web.ApiTokens;

/// <summary>
/// A personal API token: a script calls <c>/api/v1</c> with it as its user, within its scopes, until it expires or is
/// revoked. Only the hash of its text is kept (<see cref="Contracts.ApiTokenText.Hash"/>): it is shown once, at creation.
/// </summary>
public sealed class ApiToken
{
    /// <summary>The token's public id, the part after <c>dwp_</c>: finds it, and names it in the audit log.</summary>
    public required string Id { get; set; }
    public required string UserId { get; set; }
    public required string Name { get; set; }
    public required List<string> Scopes { get; set; }

    /// <summary>Lower-case hex of SHA-256 over the token's text.</summary>
    public required string Hash { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }

    /// <summary>When a script last used it, to the minute (it is recorded at most once a minute).</summary>
    public DateTimeOffset? LastUsedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }

    /// <summary>The email of whoever revoked it: its owner, or an administrator.</summary>
    public string? RevokedBy { get; set; }
}
