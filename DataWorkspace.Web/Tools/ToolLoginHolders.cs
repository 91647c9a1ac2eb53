using DataWorkspace.Contracts;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DatabaseAccess;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// Tool instances and visualisations hold the database logins they were started with: an active one needs its login
/// until it reaches the maximum lifetime (it is stopped then), a stopped one (however it stopped) or a deactivated
/// user's no longer does.
/// </summary>
public sealed class ToolLoginHolders(IServiceScopeFactory scopes, IOptions<ToolsOptions> options) : IDatabaseLoginHolders
{
    public async Task<IReadOnlyDictionary<string, DateTimeOffset>> NeededUntilAsync(IReadOnlyCollection<string> roles, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var instances = await catalogue.Set<ToolInstance>().AsNoTracking()
            .Where(i => i.LoginRole != null && roles.Contains(i.LoginRole))
            .Select(i => new { Role = i.LoginRole!, i.State, i.CreatedAt, OwnerDeactivated = i.Host != i.HostBasename && catalogue.Users.Any(u => u.Id == i.OwnerId && u.DeactivatedAt != null) })
            .ToListAsync(cancellationToken);
        // A deactivated user's own tool is on its way out: its login is not renewed meanwhile. A visualisation (its host
        // is its basename) reads as the app, not as whoever started it, and keeps its login.
        return instances.ToDictionary(
            i => i.Role, i => i.State == ToolInstanceState.Stopped || i.OwnerDeactivated ? DateTimeOffset.MinValue : i.CreatedAt + options.Value.MaxLifetime, StringComparer.Ordinal);
    }
}
