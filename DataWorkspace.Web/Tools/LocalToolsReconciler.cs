using DataWorkspace.Contracts;
using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using DataWorkspace.Web.Time;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// Local tools are processes of the web app: when it starts, any it recorded as active whose process is gone died
/// with its previous run, so they are marked stopped (with that reason) rather than shown running; sidecars that
/// run made and left behind are ended.
/// </summary>
public sealed class LocalToolsReconciler(IServiceScopeFactory scopes, ILauncher launcher, IServiceProvider services, IOptions<ToolsOptions> options, [FromKeyedServices(Clock.Real)] TimeProvider time, ILogger<LocalToolsReconciler> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (launcher.Name != "Local") return;
        services.GetRequiredService<LocalSidecars>().StopOrphans();
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var now = time.GetUtcNow();
        var active = await catalogue.Set<ToolInstance>().Where(i => i.Launcher == "Local" && i.State != ToolInstanceState.Stopped).ToListAsync(cancellationToken);
        // A spawn that never got a process is judged by the database's clock: the business clock may be moved (a
        // FileOffsetTimeProvider), and a spawn still under way elsewhere must not look years old.
        var spawnTimeout = options.Value.SpawnTimeout;
        var stalled = await catalogue.Set<ToolInstance>()
            .Where(i => i.Launcher == "Local" && i.State != ToolInstanceState.Stopped && i.LauncherHandle == null && i.CreatedAt < DateTimeOffset.UtcNow - spawnTimeout)
            .Select(i => i.Id).ToListAsync(cancellationToken);
        var gone = active.Where(i => i.LauncherHandle is { } handle ? !ProcessExists(handle) : stalled.Contains(i.Id)).Select(i => i.Id).ToList();
        if (gone.Count == 0) return;
        var stop = ToolStop.PlatformRestarted;
        // Only those still not stopped when the update runs: another web app on the same database may be stopping one
        // of them right now (its process already gone), and its own reason is the one to keep.
        var marked = await catalogue.Set<ToolInstance>()
            .Where(i => gone.Contains(i.Id) && i.State != ToolInstanceState.Stopped)
            .ExecuteUpdateAsync(update => update
                .SetProperty(i => i.State, ToolInstanceState.Stopped)
                .SetProperty(i => i.StoppedAt, now)
                .SetProperty(i => i.Stage, (ToolStage?)null)
                .SetProperty(i => i.StopCause, stop.Cause)
                .SetProperty(i => i.StopReason, stop.Reason), cancellationToken);
        if (marked > 0) logger.LogInformation("Marked {Count} local tool instances stopped: they ended with the previous run", marked);
    }

    // Registered after LocalToolServices, so this stops first: the tools' sidecars still reach their credentials as they stop.
    public Task StopAsync(CancellationToken cancellationToken) =>
        launcher is LocalLauncher local ? local.StopAllAsync(cancellationToken) : Task.CompletedTask;

    private static bool ProcessExists(string handle)
    {
        if (!int.TryParse(handle, out var pid)) return false;
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
