using System.Security.Claims;
using DataWorkspace.Web.Identity;

namespace DataWorkspace.Web.Pages;

/// <summary>The portal's sections in the service navigation, and which one a request is in.</summary>
public static class PortalNavigation
{
    public sealed record Section(string Text, string Href, string? TestId = null, bool AdminOnly = false);

    public static readonly IReadOnlyList<Section> Sections =
    [
        new("Search for data", "/datasets", "datasets-link"),
        new("Data Explorer", "/data-explorer", "explorer-link"),
        new("Tools", "/tools", "tools-link"),
        new("Your files", "/files", "files-link"),
        new("Your requests", "/requests", "requests-link"),
        new("Admin", "/admin", "admin-link", AdminOnly: true),
    ];

    /// <summary>The sections this user may see.</summary>
    public static IEnumerable<Section> For(ClaimsPrincipal user) => Sections.Where(section => !section.AdminOnly || user.IsAdmin());

    /// <summary>The section a path belongs to: its own address or anything under it (a dataset's page is under Search for data).</summary>
    public static Section? Current(PathString path) =>
        Sections.FirstOrDefault(section => path.StartsWithSegments(section.Href, StringComparison.OrdinalIgnoreCase))
        ?? (path.StartsWithSegments("/access-requests", StringComparison.OrdinalIgnoreCase) ? Sections.Single(s => s.Href == "/requests") : null);
}
