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
        var gone = active.Where(i => i.LauncherHandle is { } handle ? !ProcessExists(handle) : stalled.Contains(i.Id)).ToList();
        var stop = ToolStop.PlatformRestarted;
        foreach (var instance in gone)
            (instance.State, instance.StoppedAt, instance.Stage, instance.StopCause, instance.StopReason) = (ToolInstanceState.Stopped, now, null, stop.Cause, stop.Reason);
        await catalogue.SaveChangesAsync(cancellationToken);
        if (gone.Count > 0) logger.LogInformation("Marked {Count} local tool instances stopped: they ended with the previous run", gone.Count);
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
