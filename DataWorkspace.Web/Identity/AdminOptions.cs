namespace DataWorkspace.Web.Identity;

/// <summary>
/// Who is an admin: users whose identity provider gives them the admin role, and the emails listed in
/// <c>Admin:Emails</c> (for an identity provider that has no roles to give).
/// </summary>
public sealed class AdminOptions
{
    public const string Section = "Admin";
    public const string Policy = "Admin";

    public List<string> Emails { get; set; } = [];
}
