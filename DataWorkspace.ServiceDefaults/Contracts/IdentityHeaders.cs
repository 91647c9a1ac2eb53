namespace DataWorkspace.Contracts;

/// <summary>The headers the proxy sets on forwarded requests. Any client-sent header of these names is removed first.</summary>
public static class IdentityHeaders
{
    /// <summary>Proxy -> web: the user's identity as a short-lived signed token (see <see cref="IdentityToken"/>).</summary>
    public const string SignedIdentity = "X-DataWorkspace-Identity";

    /// <summary>Proxy -> web internal API: the proxy's own service identity (see <see cref="IdentityToken.IssueService"/>).</summary>
    public const string ServiceIdentity = "X-DataWorkspace-Service";

    public const string UserId = "X-DataWorkspace-User-Id";
    public const string UserEmail = "X-DataWorkspace-User-Email";
    public const string UserName = "X-DataWorkspace-User-Name";

    // The original Data Workspace's names, so apps written for it keep working.
    public const string SsoEmail = "sso-profile-email";
    public const string SsoUserId = "sso-profile-user-id";
    public const string SsoFirstName = "sso-profile-first-name";
    public const string SsoLastName = "sso-profile-last-name";

    public static readonly IReadOnlyList<string> All =
        [SignedIdentity, ServiceIdentity, UserId, UserEmail, UserName, SsoEmail, SsoUserId, SsoFirstName, SsoLastName];
}
