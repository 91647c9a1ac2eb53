namespace DataWorkspace.Contracts;

/// <summary>Who the signed-in user is, as the proxy vouches for it to the web app.</summary>
public sealed record PlatformIdentity(
    string UserId,
    string Email,
    string Name,
    IReadOnlyList<string> Roles,
    string ClientIp)
{
    public const string AdminRole = "admin";

    public string Hash => UserHash.Of(UserId);

    public bool IsAdmin => Roles.Contains(AdminRole, StringComparer.OrdinalIgnoreCase);
}
