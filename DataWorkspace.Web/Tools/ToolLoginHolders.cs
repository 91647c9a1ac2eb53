using DataWorkspace.Web.Data;
using DataWorkspace.Web.DataAccess;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// Tool instances and visualisations hold the database logins they were started with: an active one needs its login
/// until it reaches the maximum lifetime (it is stopped then), a stopped one (however it stopped) no longer does.
/// </summary>
public sealed class ToolLoginHolders(IServiceScopeFactory scopes, IOptions<ToolsOptions> options) : IDatabaseLoginHolders
{
    public async Task<IReadOnlyDictionary<string, DateTimeOffset>> NeededUntilAsync(IReadOnlyCollection<string> roles, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var instances = await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ToolInstance>().AsNoTracking()
            .Where(i => i.LoginRole != null && roles.Contains(i.LoginRole))
            .Select(i => new { Role = i.LoginRole!, i.State, i.CreatedAt }).ToListAsync(cancellationToken);
        return instances.ToDictionary(
            i => i.Role, i => i.State == InstanceState.Stopped ? DateTimeOffset.MinValue : i.CreatedAt + options.Value.MaxLifetime, StringComparer.Ordinal);
    }
}
