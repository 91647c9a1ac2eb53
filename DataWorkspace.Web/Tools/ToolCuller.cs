using DataWorkspace.Contracts;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Background;
using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using DataWorkspace.Web.Time;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// Every <c>Tools:CullInterval</c>, stops running instances that have had no traffic for their idle timeout, any
/// instance older than the maximum lifetime, any still starting long after its spawn timeout, and any of a deactivated
/// user's own. Every replica culls: each stop is made and audited once (see <see cref="ToolInstances.StopAsync"/>).
/// </summary>
public sealed class ToolCuller(
    IServiceScopeFactory scopes, ToolInstances tools, ToolsInstruments instruments, IOptions<ToolsOptions> options, [FromKeyedServices(Clock.Real)] TimeProvider time, ILogger<ToolCuller> logger)
    : PeriodicJob(logger)
{
    /// <summary>How long past the spawn timeout a tool may still be starting before it counts as left behind.</summary>
    public static readonly TimeSpan AbandonedAfter = TimeSpan.FromMinutes(1);

    protected override TimeSpan Interval => options.Value.CullInterval;

    protected override string Description => "Checking tools for idleness";

    // Not at start-up: traffic the proxy could not report while this app was down arrives only with its next report.
    protected override bool RunsAtStart => false;

    protected override async Task RunOnceAsync(CancellationToken cancellationToken) => await CullAsync(cancellationToken);

    /// <summary>Stops what has to stop; returns how many it stopped.</summary>
    public async Task<int> CullAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var settings = options.Value;
        List<ToolInstance> active;
        HashSet<string> leavers;
        IReadOnlyList<ToolTemplate> templates;
        await using (var scope = scopes.CreateAsyncScope())
        {
            templates = await scope.ServiceProvider.GetRequiredService<ToolTemplates>().AllAsync(cancellationToken);
            var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
            active = await catalogue.Set<ToolInstance>().AsNoTracking()
                .Where(i => i.State != ToolInstanceState.Stopped).ToListAsync(cancellationToken);
            // A deactivation stops its user's tools at once; any it could not (or started meanwhile) stop here.
            var owners = active.Where(i => i.Host != i.HostBasename).Select(i => i.OwnerId).Distinct().ToList();
            leavers = (await catalogue.Users.AsNoTracking().Where(u => owners.Contains(u.Id) && u.DeactivatedAt != null)
                .Select(u => u.Id).ToListAsync(cancellationToken)).ToHashSet(StringComparer.Ordinal);
        }

        var stopped = 0;
        foreach (var instance in active)
        {
            var idleTimeout = templates.FirstOrDefault(t => t.HostBasename == instance.HostBasename)?.IdleTimeout ?? settings.IdleTimeout;
            var stop = instance.Host != instance.HostBasename && leavers.Contains(instance.OwnerId)
                ? ToolStop.OwnerDeactivated
                : now - instance.CreatedAt >= settings.MaxLifetime
                ? ToolStop.ReachedMaxLifetime(settings.MaxLifetime)
                // A spawn runs in the replica that started it, which gives up after the spawn timeout: one still starting
                // well after that was left behind by a replica that stopped (a deployment, a restart).
                : instance.State == ToolInstanceState.Spawning && now - instance.CreatedAt >= settings.SpawnTimeout + AbandonedAfter
                ? ToolStop.FailedToStart($"it was still starting {ToolStop.Describe(settings.SpawnTimeout + AbandonedAfter)} after it was asked for, " +
                    "so the platform server starting it has stopped (a deployment or a restart). Start it again.")
                : instance.State == ToolInstanceState.Running && now - instance.LastActivityAt >= idleTimeout
                    ? ToolStop.Idle(idleTimeout, instance.LastActivityAt)
                    : null;
            if (stop is null) continue;
            try
            {
                if (await tools.StopAsync(instance.Id, null, Actor.System, stop, cancellationToken))
                {
                    stopped++;
                    instruments.Culled(stop.Cause);
                }

                logger.LogInformation("Stopped {Host} ({Id}): {Reason}", instance.Host, instance.Id, stop.Reason);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                logger.LogWarning(exception, "Could not stop {Host} ({Id}) though {Reason}", instance.Host, instance.Id, stop.Reason);
            }
        }

        return stopped;
    }
}
