using DataWorkspace.Contracts;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Portal;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Tools;

/// <summary>The tools a user may launch, each with its own instance's state or, when none is active, how its last one ended.</summary>
public sealed class ToolList(IServiceScopeFactory scopes, ILauncher launcher, PortalLinks links)
{
    public async Task<IReadOnlyList<ToolView>> ListAsync(string userId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var templates = await scope.ServiceProvider.GetRequiredService<ToolTemplates>().AllAsync(cancellationToken);
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var hosts = templates.Select(t => ToolHosts.HostFor(t, userId)).ToList();
        var latest = await catalogue.Set<ToolInstance>().AsNoTracking()
            .Where(i => hosts.Contains(i.Host) && (i.State != ToolInstanceState.Stopped || i.OwnerId == userId))
            .GroupBy(i => i.Host).Select(g => g.OrderByDescending(i => i.CreatedAt).First())
            .ToDictionaryAsync(i => i.Host, cancellationToken);
        return
        [
            .. templates.Where(t => t.Visible && t.Kind == ToolKind.Tool).Select(template =>
            {
                var host = ToolHosts.HostFor(template, userId);
                var instance = latest.GetValueOrDefault(host);
                var active = instance is { State: not ToolInstanceState.Stopped };
                return new ToolView(template.Name, template.HostBasename, template.Description, template.Kind,
                    ToolHosts.UrlOf(host, links.Root), active ? instance!.State : ToolInstanceState.Stopped,
                    active ? instance!.Size : template.DefaultSize, template.DefaultSize, active ? instance!.Stage?.Words() : null,
                    launcher.Unavailable(template), instance is { State: ToolInstanceState.Stopped } ? instance.StopReason : null,
                    instance is { State: ToolInstanceState.Stopped } ? instance.Error : null, active ? instance!.Id : null,
                    template.Wrap == WrapMode.FullHeightIframe);
            }),
        ];
    }
}
