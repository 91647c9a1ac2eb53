using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Tools;

/// <summary>The templates users may launch: those declared in configuration, then those kept in the catalogue.</summary>
public sealed class ToolTemplates(CatalogueDbContext catalogue, IOptionsMonitor<ToolsOptions> options)
{
    public async Task<IReadOnlyList<ToolTemplate>> AllAsync(CancellationToken cancellationToken)
    {
        var configured = options.CurrentValue.Templates.Select(template => template.ToTemplate()).ToList();
        var stored = await catalogue.Set<ToolTemplate>().AsNoTracking().ToListAsync(cancellationToken);
        return
        [
            .. configured.Concat(stored.Where(template => !configured.Any(c => c.HostBasename == template.HostBasename)))
                .OrderBy(template => template.Name, StringComparer.OrdinalIgnoreCase),
        ];
    }

    public async Task<ToolTemplate?> ByBasenameAsync(string basename, CancellationToken cancellationToken) =>
        (await AllAsync(cancellationToken)).FirstOrDefault(template => template.HostBasename == basename);
}
