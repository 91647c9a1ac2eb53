namespace DataWorkspace.Contracts;

/// <summary>
/// The audit actions the proxy writes (a sign-in happens there, never in the web app), as the web app's audit log
/// reads, filters and exports them.
/// </summary>
public static class SignInAuditActions
{
    public const string SignedIn = "signed-in";
    public const string Refused = "sign-in.refused";
}
