using DataWorkspace.Contracts;
using DataWorkspace.Web.Identity;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// Tool host names: <c>&lt;basename&gt;-&lt;userhash8&gt;</c> for a user's tool, <c>&lt;basename&gt;</c> for a
/// visualisation, each under the portal's root domain.
/// </summary>
public static class ToolHosts
{
    public static string? BasenameProblem(string? basename)
    {
        if (string.IsNullOrEmpty(basename)) return "HostBasename is required.";
        if (basename.Length > 40) return $"HostBasename '{basename}' is longer than 40 characters.";
        if (!ToolHostName.IsBasename(basename))
            return $"HostBasename '{basename}' must be lowercase letters and digits in words joined by single hyphens, starting with a letter.";
        return null;
    }

    public static string ForUser(string basename, string userId) => ToolHostName.For(basename, userId);

    public static string HostFor(ToolTemplate template, string userId) =>
        template.Kind == ToolKind.Visualisation ? template.HostBasename : ForUser(template.HostBasename, userId);

    /// <summary>The basename in a host label (<c>jupyterlab-1a2b3c4d</c> or a visualisation's <c>trade-dashboard</c>).</summary>
    public static string? BasenameOf(string host) => ToolHostName.Parse(host).Name?.Basename;

    /// <summary>
    /// The identity a visualisation's database login belongs to: apps read with their own role (the datasets their
    /// developers gave them), never with the viewer's or the starter's.
    /// </summary>
    public static string AppUserId(string basename) => PlatformClaims.AppUserIdPrefix + basename;

    /// <summary>The tool's public address, on the portal's scheme, root domain and port.</summary>
    public static Uri UrlOf(string host, Uri portal) => new UriBuilder(portal) { Host = $"{host}.{portal.Host}", Path = "/", Query = "" }.Uri;
}
