namespace DataWorkspace.Contracts;

/// <summary>
/// The web app's internal API for the proxy's sign-ins and sessions. The web app owns users and the audit log; the
/// proxy owns sessions and asks through this API, with its service identity, never with SQL.
/// </summary>
public static class InternalAccounts
{
    public const string Prefix = "/internal/v1/accounts";

    /// <summary>Under <see cref="Prefix"/>: POST a <see cref="SignInReport"/>, answered with a <see cref="SignInDecision"/>.</summary>
    public const string SignIns = "/sign-ins";

    /// <summary>Under <see cref="Prefix"/>: POST a <see cref="DeactivatedUsersQuery"/>, answered with a <see cref="DeactivatedUsersAnswer"/>.</summary>
    public const string Deactivated = "/deactivated";

    /// <summary>The most users one <see cref="DeactivatedUsersQuery"/> may ask about.</summary>
    public const int MaxUsersAsked = 1000;
}

/// <summary>A sign-in the identity provider accepted, for the web app to record in the audit log and to allow or refuse.</summary>
public sealed record SignInReport(string UserId, string Email, string? ClientIp);

/// <summary>
/// The web app's decision on a <see cref="SignInReport"/>: refused when an administrator has deactivated the user
/// (recorded as a refused sign-in), allowed otherwise (recorded as a sign-in).
/// </summary>
public sealed record SignInDecision(bool Deactivated);

/// <summary>Which of these users has an administrator deactivated?</summary>
public sealed record DeactivatedUsersQuery(IReadOnlyList<string> UserIds);

/// <summary>Those of the asked users who are deactivated now.</summary>
public sealed record DeactivatedUsersAnswer(IReadOnlyList<string> UserIds);
