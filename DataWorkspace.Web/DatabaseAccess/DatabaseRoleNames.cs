using System.Text.RegularExpressions;
using DataWorkspace.Contracts;

namespace DataWorkspace.Web.DatabaseAccess;

/// <summary>
/// The names of everything the platform manages in the datasets database. Every name starts with an underscore and a
/// kind, so the synchronisation can tell its own roles from anyone else's and never touches the others.
/// </summary>
public static partial class DatabaseRoleNames
{
    public const int MaxSlugLength = 40;

    /// <summary>Member of every OPEN and REQUIRES_AUTHENTICATION dataset's role; every user's role is a member of it.</summary>
    public const string Everyone = "_datasets_everyone";

    /// <summary>The schema of the views that data cuts (custom queries) read through.</summary>
    public const string DataCutSchema = "_datacuts";

    public const string UserPrefix = "_user_";
    public const string TeamPrefix = "_team_";
    public const string DatasetPrefix = "_dataset_";
    public const string DomainPrefix = "_domain_";
    public const string LoginPrefix = "_login_";

    /// <summary>A user's permanent role and private schema.</summary>
    public static string User(string userId) => UserPrefix + UserHash.Of(userId);

    public static string Team(string slug) => TeamPrefix + slug;

    /// <summary>One role per dataset holds SELECT on its tables: giving or taking access is one membership.</summary>
    public static string Dataset(Guid datasetId) => DatasetPrefix + datasetId.ToString("N")[..16];

    /// <summary>The role of everyone whose email is at <paramref name="domain"/> (a readable slug plus a hash, to stay unique and short).</summary>
    public static string Domain(string domain)
    {
        var lower = domain.ToLowerInvariant();
        var readable = NotSlug().Replace(lower, "_");
        if (readable.Length > 30) readable = readable[..30];
        return DomainPrefix + readable + "_" + UserHash.Of("domain:" + lower)[..6];
    }

    public static string DataCutView(Guid queryId) => "cut_" + queryId.ToString("N")[..16];

    /// <summary>A new login for the user: their hash and a random part.</summary>
    public static string NewLogin(string userId) =>
        LoginPrefix + UserHash.Of(userId) + "_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(5));

    public static bool IsValidTeamSlug(string slug) => slug.Length is > 0 and <= MaxSlugLength && TeamSlug().IsMatch(slug);

    /// <summary>A double-quoted identifier.</summary>
    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"") + "\"";

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex NotSlug();

    [GeneratedRegex("^[a-z][a-z0-9_]*$")]
    private static partial Regex TeamSlug();
}
