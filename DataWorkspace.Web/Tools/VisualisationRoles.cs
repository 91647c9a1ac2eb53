using DataWorkspace.Web.Data;
using DataWorkspace.Web.DatabaseAccess;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Tools;

/// <summary>Each visualisation reads as itself (<see cref="ToolHosts.AppUserId"/>), with only the datasets its developers gave it.</summary>
public sealed class VisualisationRoles(ToolTemplates templates, CatalogueDbContext catalogue) : IDatasetRoleHolders
{
    public async Task<IReadOnlyList<DatasetRoleHolder>> HoldersAsync(CancellationToken cancellationToken)
    {
        var all = await templates.AllAsync(cancellationToken);
        var grants = await catalogue.Set<VisualisationDataset>().AsNoTracking().Select(g => new { g.HostBasename, g.DatasetId }).ToListAsync(cancellationToken);
        return [.. all.Where(t => t.Kind == ToolKind.Visualisation).Select(template => new DatasetRoleHolder(
            ToolHosts.AppUserId(template.HostBasename), [.. grants.Where(g => g.HostBasename == template.HostBasename).Select(g => g.DatasetId)]))];
    }
}
