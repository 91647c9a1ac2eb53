using System.Collections.Concurrent;
using DataWorkspace.Contracts;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.ToolsAccess;
using DataWorkspace.Web.Users;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using DataWorkspace.Web.Time;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// The life of tool instances: one active per user per tool, SPAWNING -> RUNNING -> STOPPED with the cause and reason
/// kept. Starting records the instance first (the database refuses a second active one for the same host), then
/// spawns it in the background; every start and stop is audited.
/// </summary>
public sealed class ToolInstances(
    IServiceScopeFactory scopes,
    ToolInstanceRecords records,
    ToolSpawner spawner,
    VisualisationAccess visualisations,
    ILauncher launcher,
    DatabaseLogins logins,
    DeactivatedUsers deactivated,
    [FromKeyedServices(Clock.Real)] TimeProvider time,
    ILogger<ToolInstances> logger) : IDeactivationStep
{
    private readonly ConcurrentDictionary<Guid, Task> spawning = new();

    /// <summary>The active instance at a host label (<c>jupyterlab-1a2b3c4d</c>), if any.</summary>
    public async Task<ToolInstance?> ActiveAsync(string host, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ToolInstance>().AsNoTracking()
            .FirstOrDefaultAsync(i => i.Host == host && i.State != ToolInstanceState.Stopped, cancellationToken);
    }

    /// <summary>
    /// Starts the user's tool, or returns the instance already active; refuses (with the reason) a user without tools
    /// access, an unknown or hidden template, a size that does not exist, or a tool this launcher cannot run.
    /// </summary>
    public async Task<ToolInstance> StartAsync(PlatformIdentity user, string basename, string? sizeName, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        var (template, size) = await AllowedStartAsync(services, user, basename, sizeName, cancellationToken);
        var host = ToolHosts.HostFor(template, user.UserId);
        if (await ActiveAsync(host, cancellationToken) is { } existing) return existing;

        var now = time.GetUtcNow();
        var instance = new ToolInstance
        {
            Host = host, HostBasename = template.HostBasename, TemplateName = template.Name, OwnerId = user.UserId,
            State = ToolInstanceState.Spawning, Size = size.Name, Launcher = launcher.Name, Stage = ToolStage.Queued,
            CreatedAt = now, LastActivityAt = now,
        };
        var catalogue = services.GetRequiredService<CatalogueDbContext>();
        catalogue.Add(instance);
        services.GetRequiredService<AuditLog>().Add(AuditActions.ToolStarted, new Actor(user.UserId, user.Email, user.ClientIp),
            $"{user.Email} started {template.Name} ({size.Label})", subjectUserId: user.UserId, details: host);
        try
        {
            await catalogue.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException exception) when (exception.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // Another request started it a moment ago: that one is the instance.
            if (await ActiveAsync(host, cancellationToken) is { } winner) return winner;
            throw;
        }

        spawning[instance.Id] = Task.Run(() => SpawnAsync(instance.Id, template, size, user));
        return instance;
    }

    /// <summary>The template and size the user may start, or a <see cref="ToolRefusedException"/> saying why not.</summary>
    private async Task<(ToolTemplate Template, ToolSize Size)> AllowedStartAsync(
        IServiceProvider services, PlatformIdentity user, string basename, string? sizeName, CancellationToken cancellationToken)
    {
        if (await deactivated.IsDeactivatedAsync(user.UserId, cancellationToken))
            throw new ToolRefusedException(ToolRefusal.AccountDeactivated, "Your account has been deactivated, so you cannot launch tools. Ask the Data Workspace administrators if you need it again.");
        var template = await services.GetRequiredService<ToolTemplates>().ByBasenameAsync(basename, cancellationToken);
        if (template is not { Visible: true }) throw new ToolRefusedException(ToolRefusal.NoSuchTool, $"There is no tool called '{basename}'.");
        if (template.Kind == ToolKind.Visualisation)
        {
            // Anyone its access allows may start the one shared instance of a visualisation by opening it.
            if (await visualisations.RefusalAsync(basename, user, cancellationToken) is { } refusal)
                throw new ToolRefusedException(ToolRefusal.NoVisualisationAccess, refusal);
        }
        else if (await services.GetRequiredService<ToolsAccessService>().ActivePermissionAsync(user.UserId, cancellationToken) is null)
            throw new ToolRefusedException(ToolRefusal.NoToolsAccess, "You need tools access to launch tools: confirm your data protection training on the Tools access page, or ask an administrator.");
        var size = sizeName is null ? ToolSizes.Find(template.DefaultSize) ?? ToolSizes.Default : ToolSizes.Find(sizeName)
            ?? throw new ToolRefusedException(ToolRefusal.NoSuchSize, $"There is no size '{sizeName}': choose one of {string.Join(", ", ToolSizes.All.Select(s => s.Name))}.");
        if (launcher.Unavailable(template) is { } reason) throw new ToolRefusedException(ToolRefusal.CannotRunHere, reason);
        return (template, size);
    }

    /// <summary>Spawns the instance; one that does not start keeps why as its error and is stopped.</summary>
    private async Task SpawnAsync(Guid id, ToolTemplate template, ToolSize size, PlatformIdentity user)
    {
        try
        {
            if (await spawner.SpawnAsync(id, template, size, user) is not { } failure) return;
            try
            {
                await records.SetAsync(id, i => i.Error = Clip(failure, 2000));
                await StopAsync(id, null, Actor.System, ToolStop.FailedToStart(failure), CancellationToken.None);
            }
            catch (Exception recording)
            {
                logger.LogError(recording, "Could not record that {Tool} instance {Id} failed to start", template.Name, id);
            }
        }
        finally
        {
            spawning.TryRemove(id, out _);
        }
    }

    /// <summary>Waits for a spawn started by this process (tests, shutdown); returns at once for others.</summary>
    public Task SpawnedAsync(Guid id) => spawning.TryGetValue(id, out var task) ? task : Task.CompletedTask;

    /// <summary>Stops the instance if it is active; <paramref name="byUserId"/> null means any owner (an admin, the culling job).</summary>
    public async Task<bool> StopAsync(Guid id, string? byUserId, Actor actor, ToolStop stop, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        // The row stays locked until the stop is recorded: another replica's culler, or the user's own stop, waits and
        // then finds it stopped, so each stop is made and audited once.
        var instance = await catalogue.InTransactionAsync(async token =>
        {
            var found = await catalogue.Set<ToolInstance>()
                .FromSql($"SELECT * FROM tool_instances WHERE id = {id} AND state <> 'Stopped' FOR UPDATE")
                .FirstOrDefaultAsync(i => byUserId == null || i.OwnerId == byUserId, token);
            if (found is null) return null;

            await launcher.StopAsync(found, token);
            found.State = ToolInstanceState.Stopped;
            found.StoppedAt = time.GetUtcNow();
            found.StopCause = stop.Cause;
            found.StopReason = Clip(stop.Reason, 500);
            found.Stage = null;
            scope.ServiceProvider.GetRequiredService<AuditLog>().Add(AuditActions.ToolStopped, actor,
                $"{found.TemplateName} of {found.Host} stopped: {stop.Reason}", subjectUserId: found.OwnerId, details: found.Host);
            await catalogue.SaveChangesAsync(CancellationToken.None);
            return found;
        }, cancellationToken);
        if (instance is null) return false;

        records.Changed(instance.Host);
        if (instance.LoginRole is { } role) await logins.RetireAsync(role, CancellationToken.None);
        return true;
    }

    /// <summary>
    /// Stops the user's own running and starting tools (not the shared visualisations they happened to start): their
    /// account was deactivated.
    /// </summary>
    public async Task EndAsync(string userId, string userEmail, Actor actor, CancellationToken cancellationToken)
    {
        List<Guid> active;
        await using (var scope = scopes.CreateAsyncScope())
            active = await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ToolInstance>().AsNoTracking()
                .Where(i => i.OwnerId == userId && i.State != ToolInstanceState.Stopped && i.Host != i.HostBasename)
                .Select(i => i.Id).ToListAsync(cancellationToken);
        foreach (var id in active)
            await StopAsync(id, null, actor, ToolStop.AccountDeactivated(userEmail, actor.Email), cancellationToken);
    }

    /// <summary>
    /// Records when the proxy last saw traffic to each instance (never moving a time back, never into the future);
    /// returns how many active instances it touched.
    /// </summary>
    public async Task<int> RecordActivityAsync(IReadOnlyCollection<ToolActivityEntry> entries, CancellationToken cancellationToken)
    {
        if (entries.Count == 0) return 0;
        var now = time.GetUtcNow();
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        return await catalogue.Database.ExecuteSqlRawAsync("""
            UPDATE tool_instances t SET last_activity_at = greatest(t.last_activity_at, a.at)
            FROM unnest(@ids, @ats) AS a(id, at)
            WHERE t.id = a.id AND t.state <> 'Stopped'
            """,
            [
                new NpgsqlParameter<Guid[]>("ids", [.. entries.Select(e => e.InstanceId)]),
                new NpgsqlParameter<DateTimeOffset[]>("ats", [.. entries.Select(e => e.LastActivityAt > now ? now : e.LastActivityAt)]),
            ],
            cancellationToken);
    }

    private static string Clip(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";
}
