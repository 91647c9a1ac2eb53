namespace DataWorkspace.Contracts;

/// <summary>
/// Who the signed-in user is, as the proxy vouches for it to the web app; with <paramref name="ApiToken"/> when the
/// request came with one of the user's personal API tokens instead of a session (and may do only what its scopes say).
/// </summary>
public sealed record PlatformIdentity(
    string UserId,
    string Email,
    string Name,
    IReadOnlyList<string> Roles,
    string ClientIp,
    ApiTokenGrant? ApiToken = null)
{
    public const string AdminRole = "admin";

    public string Hash => UserHash.Of(UserId);

    public bool IsAdmin => Roles.Contains(AdminRole, StringComparer.OrdinalIgnoreCase);
}
