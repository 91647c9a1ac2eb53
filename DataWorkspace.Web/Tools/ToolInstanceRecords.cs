using System.Collections.Concurrent;
using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// Reads and changes one instance's record, each in its own scope (a spawn outlives the request that began it), and
/// wakes whoever waits for a change at the instance's host.
/// </summary>
public sealed class ToolInstanceRecords(IServiceScopeFactory scopes)
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> changes = new(StringComparer.Ordinal);

    public async Task<ToolInstance?> FindAsync(Guid id)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ToolInstance>().AsNoTracking().FirstOrDefaultAsync(i => i.Id == id);
    }

    public async Task SetAsync(Guid id, Action<ToolInstance> change)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        if (await catalogue.Set<ToolInstance>().FirstOrDefaultAsync(i => i.Id == id) is not { } instance) return;
        change(instance);
        await catalogue.SaveChangesAsync();
        Changed(instance.Host);
    }

    /// <summary>Completes at the next change this process makes at <paramref name="host"/>.</summary>
    public Task NextChangeAsync(string host) => changes.GetOrAdd(host, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void Changed(string host)
    {
        if (changes.TryRemove(host, out var waiting)) waiting.TrySetResult();
    }
}
