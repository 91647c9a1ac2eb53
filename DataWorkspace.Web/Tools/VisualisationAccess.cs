using DataWorkspace.Contracts;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Portal;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// Who may open a visualisation: its developers (the team) and admins always; everyone else as its catalogue entry's
/// access rules say (open, by email domain, or by permission).
/// </summary>
public sealed class VisualisationAccess(IServiceScopeFactory scopes, PortalLinks links)
{
    /// <summary>
    /// Why <paramref name="viewer"/> may not open the visualisation <paramref name="basename"/>, or null if they may
    /// (or there is no such visualisation: that is answered as not found).
    /// </summary>
    public async Task<string?> RefusalAsync(string basename, PlatformIdentity viewer, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        if (await services.GetRequiredService<ToolTemplates>().ByBasenameAsync(basename, cancellationToken) is not { Kind: ToolKind.Visualisation } template)
            return null;
        if (viewer.IsAdmin || await IsDeveloperAsync(services, template, viewer.UserId, cancellationToken)) return null;
        var catalogue = services.GetRequiredService<CatalogueDbContext>();
        var entry = await catalogue.Datasets.AsNoTracking()
            .FirstOrDefaultAsync(d => d.Slug == template.CatalogueSlug && d.Published && d.DeletedAt == null, cancellationToken);
        if (entry is null) return $"{template.Name} is not published in the catalogue yet, so only its developers can open it";
        var decision = await services.GetRequiredService<DatasetAccess>().DecideAsync(entry, new Reader(viewer.UserId, viewer.Email), cancellationToken);
        return decision.CanRead
            ? null
            : $"You do not have access to {template.Name}. Ask for it on its catalogue page: {links.Portal($"/datasets/{entry.Slug}")}";
    }

    /// <summary>Whether the user is in the team that develops the visualisation.</summary>
    internal static async Task<bool> IsDeveloperAsync(IServiceProvider services, ToolTemplate template, string userId, CancellationToken cancellationToken) =>
        template.TeamSlug is { } team && await services.GetRequiredService<CatalogueDbContext>().Set<Team>().AsNoTracking()
            .AnyAsync(t => t.Slug == team && t.Members.Any(m => m.UserId == userId), cancellationToken);
}
