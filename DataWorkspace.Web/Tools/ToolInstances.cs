using System.Collections.Concurrent;
using DataWorkspace.Contracts;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.Portal;
using DataWorkspace.Web.ToolsAccess;
using DataWorkspace.Web.Users;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace DataWorkspace.Web.Tools;

/// <summary>A tool as one user sees it: the template, where it is, whether it runs, and why it cannot when it cannot.</summary>
public sealed record ToolView(
    string Name, string HostBasename, string Description, ToolKind Kind, Uri Url, string State, string Size, string DefaultSize,
    string? Stage, string? Unavailable, string? LastStopReason, string? Error, Guid? InstanceId, bool Wrapped);

/// <summary>
/// The life of tool instances: one active per user per tool, SPAWNING -> RUNNING -> STOPPED with the reason kept.
/// Starting records the instance first (the database refuses a second active one for the same host), then launches
/// it in the background and waits for it to answer; every start and stop is audited.
/// </summary>
public sealed class ToolInstances(
    IServiceScopeFactory scopes,
    ILauncher launcher,
    DatabaseLogins logins,
    ToolStorage storage,
    [FromKeyedServices(DatasetsDatabase.ConnectionName)] NpgsqlDataSource datasets,
    PortalLinks links,
    DeactivatedUsers deactivated,
    IOptions<ToolsOptions> options,
    TimeProvider time,
    ILogger<ToolInstances> logger) : IDeactivationStep
{
    /// <summary>Asks a starting tool whether it answers: once per try, no retries or resilience pipeline of its own.</summary>
    private static readonly HttpClient Probe = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false, ConnectTimeout = TimeSpan.FromSeconds(2) });

    private readonly ConcurrentDictionary<Guid, Task> spawning = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> changes = new(StringComparer.Ordinal);

    public async Task<IReadOnlyList<ToolView>> ListAsync(string userId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var templates = await scope.ServiceProvider.GetRequiredService<ToolTemplates>().AllAsync(cancellationToken);
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var hosts = templates.Select(t => ToolHosts.HostFor(t, userId)).ToList();
        var latest = await catalogue.Set<ToolInstance>().AsNoTracking()
            .Where(i => hosts.Contains(i.Host) && (i.State != InstanceState.Stopped || i.OwnerId == userId))
            .GroupBy(i => i.Host).Select(g => g.OrderByDescending(i => i.CreatedAt).First())
            .ToDictionaryAsync(i => i.Host, cancellationToken);
        return
        [
            .. templates.Where(t => t.Visible && t.Kind == ToolKind.Tool).Select(template =>
            {
                var host = ToolHosts.HostFor(template, userId);
                var instance = latest.GetValueOrDefault(host);
                var active = instance is { State: not InstanceState.Stopped };
                return new ToolView(template.Name, template.HostBasename, template.Description, template.Kind,
                    ToolHosts.UrlOf(host, links.Root), active ? instance!.State.ToString() : InstanceState.Stopped.ToString(),
                    active ? instance!.Size : template.DefaultSize, template.DefaultSize, active ? instance!.Stage : null,
                    launcher.Unavailable(template), instance is { State: InstanceState.Stopped } ? instance.StopReason : null,
                    instance is { State: InstanceState.Stopped } ? instance.Error : null, active ? instance!.Id : null,
                    template.Wrap == WrapMode.FullHeightIframe);
            }),
        ];
    }

    /// <summary>
    /// The state of a user tool host for the proxy: its active instance, else its last one (stopped, with why), else
    /// "None" for a tool never started; null when no template has the host's basename.
    /// </summary>
    public async Task<InternalToolState?> StateAsync(string host, CancellationToken cancellationToken) =>
        await TemplateOfAsync(host, cancellationToken) is { } template ? await StateAsync(host, template, cancellationToken) : null;

    private async Task<ToolTemplate?> TemplateOfAsync(string host, CancellationToken cancellationToken)
    {
        if (ToolHostName.Parse(host).Name is not { } name) return null;
        await using var scope = scopes.CreateAsyncScope();
        // A user's tool at a tool's host, a visualisation at its own: never one kind at the other's address.
        return await scope.ServiceProvider.GetRequiredService<ToolTemplates>().ByBasenameAsync(name.Basename, cancellationToken) is { } template
            && (template.Kind == ToolKind.Visualisation) == name.IsVisualisation ? template : null;
    }

    /// <summary>
    /// Why <paramref name="viewer"/> may not open the visualisation <paramref name="basename"/>, or null if they may
    /// (or there is no such visualisation: that is answered as not found). Its developers (the team) and admins always
    /// may; everyone else as its catalogue entry's access rules say: open, by email domain, or by permission.
    /// </summary>
    public async Task<string?> VisualisationRefusalAsync(string basename, PlatformIdentity viewer, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        if (await services.GetRequiredService<ToolTemplates>().ByBasenameAsync(basename, cancellationToken) is not { Kind: ToolKind.Visualisation } template)
            return null;
        if (viewer.IsAdmin || await IsDeveloperAsync(services, template, viewer.UserId, cancellationToken)) return null;
        var catalogue = services.GetRequiredService<CatalogueDbContext>();
        var entry = await catalogue.Datasets.AsNoTracking()
            .FirstOrDefaultAsync(d => d.Slug == template.CatalogueSlug && d.Published && d.DeletedAt == null, cancellationToken);
        if (entry is null) return $"{template.Name} is not published in the catalogue yet, so only its developers can open it";
        var decision = await services.GetRequiredService<DatasetAccess>().DecideAsync(entry, new Reader(viewer.UserId, viewer.Email), cancellationToken);
        return decision.CanRead
            ? null
            : $"You do not have access to {template.Name}. Ask for it on its catalogue page: {links.Portal($"/datasets/{entry.Slug}")}";
    }

    /// <summary>Whether the user is in the team that develops the visualisation.</summary>
    internal static async Task<bool> IsDeveloperAsync(IServiceProvider services, ToolTemplate template, string userId, CancellationToken cancellationToken) =>
        template.TeamSlug is { } team && await services.GetRequiredService<CatalogueDbContext>().Set<Team>().AsNoTracking()
            .AnyAsync(t => t.Slug == team && t.Members.Any(m => m.UserId == userId), cancellationToken);

    private async Task<InternalToolState> StateAsync(string host, ToolTemplate template, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var instance = await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ToolInstance>().AsNoTracking()
            .Where(i => i.Host == host).OrderBy(i => i.State == InstanceState.Stopped).ThenByDescending(i => i.CreatedAt)
            .FirstOrDefaultAsync(cancellationToken);
        return instance is null
            ? new InternalToolState(host, template.Name, "None", null, null, null, null, null, null, template.Ports)
            : new InternalToolState(host, template.Name, instance.State.ToString(), instance.Id, instance.Address, instance.Stage, instance.Error,
                instance.StopReason, instance.CreatedAt, template.Ports);
    }

    /// <summary>Returns as soon as the host's state differs from <paramref name="since"/> (a <see cref="InternalToolState.Version"/>), or after <paramref name="wait"/>.</summary>
    public async Task<InternalToolState?> WaitForChangeAsync(string host, string since, TimeSpan wait, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(wait);
        InternalToolState? state = null;
        try
        {
            // The template once; then only the instance, each time something may have changed.
            if (await TemplateOfAsync(host, timeout.Token) is not { } template) return null;
            while (true)
            {
                var changed = changes.GetOrAdd(host, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                state = await StateAsync(host, template, timeout.Token);
                if (state.Version != since) return state;
                // Changes made here wake the wait at once; those made by another replica are seen within a quarter second.
                await Task.WhenAny(changed, Task.Delay(TimeSpan.FromMilliseconds(250), timeout.Token));
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return state;
        }
    }

    private void Changed(string host)
    {
        if (changes.TryRemove(host, out var waiting)) waiting.TrySetResult();
    }

    /// <summary>The active instance at a host label (<c>jupyterlab-1a2b3c4d</c>), if any.</summary>
    public async Task<ToolInstance?> ActiveAsync(string host, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ToolInstance>().AsNoTracking()
            .FirstOrDefaultAsync(i => i.Host == host && i.State != InstanceState.Stopped, cancellationToken);
    }

    /// <summary>
    /// Starts the user's tool, or returns the instance already active; refuses (with the reason) a user without tools
    /// access, an unknown or hidden template, a size that does not exist, or a tool this launcher cannot run.
    /// </summary>
    public async Task<ToolInstance> StartAsync(PlatformIdentity user, string basename, string? sizeName, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        if (await deactivated.IsDeactivatedAsync(user.UserId, cancellationToken))
            throw new ToolRefusedException(403, "Your account has been deactivated, so you cannot launch tools. Ask the Data Workspace administrators if you need it again.");
        var template = await services.GetRequiredService<ToolTemplates>().ByBasenameAsync(basename, cancellationToken);
        if (template is not { Visible: true }) throw new ToolRefusedException(404, $"There is no tool called '{basename}'.");
        if (template.Kind == ToolKind.Visualisation)
        {
            // Anyone its access allows may start the one shared instance of a visualisation by opening it.
            if (await VisualisationRefusalAsync(basename, user, cancellationToken) is { } refusal) throw new ToolRefusedException(403, refusal);
        }
        else if (await services.GetRequiredService<ToolsAccessService>().ActivePermissionAsync(user.UserId, cancellationToken) is null)
            throw new ToolRefusedException(403, "You need tools access to launch tools: confirm your data protection training on the Tools access page, or ask an administrator.");
        var size = sizeName is null ? ToolSizes.Find(template.DefaultSize) ?? ToolSizes.Default : ToolSizes.Find(sizeName)
            ?? throw new ToolRefusedException(400, $"There is no size '{sizeName}': choose one of {string.Join(", ", ToolSizes.All.Select(s => s.Name))}.");
        if (launcher.Unavailable(template) is { } reason) throw new ToolRefusedException(409, reason);

        var host = ToolHosts.HostFor(template, user.UserId);
        if (await ActiveAsync(host, cancellationToken) is { } existing) return existing;
        var catalogue = services.GetRequiredService<CatalogueDbContext>();

        var now = time.GetUtcNow();
        var instance = new ToolInstance
        {
            Host = host, HostBasename = template.HostBasename, TemplateName = template.Name, OwnerId = user.UserId,
            State = InstanceState.Spawning, Size = size.Name, Launcher = launcher.Name, Stage = "queued",
            CreatedAt = now, LastActivityAt = now,
        };
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

    /// <summary>Stops the instance if it is active; <paramref name="byUserId"/> null means any owner (an admin, the culling job).</summary>
    public async Task<bool> StopAsync(Guid id, string? byUserId, Actor actor, string reason, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var instance = await catalogue.Set<ToolInstance>()
            .FirstOrDefaultAsync(i => i.Id == id && i.State != InstanceState.Stopped && (byUserId == null || i.OwnerId == byUserId), cancellationToken);
        if (instance is null) return false;

        await launcher.StopAsync(instance, cancellationToken);
        instance.State = InstanceState.Stopped;
        instance.StoppedAt = time.GetUtcNow();
        instance.StopReason = Clip(reason, 500);
        instance.Stage = null;
        scope.ServiceProvider.GetRequiredService<AuditLog>().Add(AuditActions.ToolStopped, actor,
            $"{instance.TemplateName} of {instance.Host} stopped: {reason}", subjectUserId: instance.OwnerId, details: instance.Host);
        await catalogue.SaveChangesAsync(CancellationToken.None);
        Changed(instance.Host);
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
                .Where(i => i.OwnerId == userId && i.State != InstanceState.Stopped && i.Host != i.HostBasename)
                .Select(i => i.Id).ToListAsync(cancellationToken);
        foreach (var id in active)
            await StopAsync(id, null, actor, $"{userEmail}'s account was deactivated by {actor.Email}", cancellationToken);
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

    /// <summary>
    /// Stops running instances that have had no traffic for their idle timeout, and any instance older than the
    /// maximum lifetime; returns how many it stopped.
    /// </summary>
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
                .Where(i => i.State != InstanceState.Stopped).ToListAsync(cancellationToken);
            // A deactivation stops its user's tools at once; any it could not (or started meanwhile) stop here.
            var owners = active.Where(i => i.Host != i.HostBasename).Select(i => i.OwnerId).Distinct().ToList();
            leavers = (await catalogue.Users.AsNoTracking().Where(u => owners.Contains(u.Id) && u.DeactivatedAt != null)
                .Select(u => u.Id).ToListAsync(cancellationToken)).ToHashSet(StringComparer.Ordinal);
        }

        var stopped = 0;
        foreach (var instance in active)
        {
            var idleTimeout = templates.FirstOrDefault(t => t.HostBasename == instance.HostBasename)?.IdleTimeout ?? settings.IdleTimeout;
            var reason = instance.Host != instance.HostBasename && leavers.Contains(instance.OwnerId)
                ? "its user's account is deactivated"
                : now - instance.CreatedAt >= settings.MaxLifetime
                ? $"it reached the maximum lifetime of {Describe(settings.MaxLifetime)}"
                : instance.State == InstanceState.Running && now - instance.LastActivityAt >= idleTimeout
                    ? $"it was idle for {Describe(idleTimeout)} (no traffic since {instance.LastActivityAt.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC)"
                    : null;
            if (reason is null) continue;
            try
            {
                if (await StopAsync(instance.Id, null, Actor.System, reason, cancellationToken)) stopped++;
                logger.LogInformation("Stopped {Host} ({Id}): {Reason}", instance.Host, instance.Id, reason);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                logger.LogWarning(exception, "Could not stop {Host} ({Id}) though {Reason}", instance.Host, instance.Id, reason);
            }
        }

        return stopped;
    }

    /// <summary>"2 hours", "90 minutes", "3 seconds": a duration in the words of a stop reason.</summary>
    internal static string Describe(TimeSpan span) => span switch
    {
        { TotalDays: >= 1 } when span.TotalDays % 1 == 0 => Plural(span.TotalDays, "day"),
        { TotalHours: >= 1 } when span.TotalHours % 1 == 0 => Plural(span.TotalHours, "hour"),
        { TotalMinutes: >= 1 } when span.TotalMinutes % 1 == 0 => Plural(span.TotalMinutes, "minute"),
        _ => Plural(Math.Round(span.TotalSeconds), "second"),
    };

    private static string Plural(double count, string unit) => $"{count:0} {unit}{(count == 1 ? "" : "s")}";

    /// <summary>Waits for a spawn started by this process (tests, shutdown); returns at once for others.</summary>
    public Task SpawnedAsync(Guid id) => spawning.TryGetValue(id, out var task) ? task : Task.CompletedTask;

    private async Task SpawnAsync(Guid id, ToolTemplate template, ToolSize size, PlatformIdentity user)
    {
        using var timeout = new CancellationTokenSource(options.Value.SpawnTimeout);
        try
        {
            await SetAsync(id, i => i.Stage = "provisioning");
            // A user's tool reads as its user; a visualisation as itself, whoever opened it first.
            var visualisation = template.Kind == ToolKind.Visualisation;
            var runsAs = visualisation ? ToolHosts.AppUserId(template.HostBasename) : user.UserId;
            var login = await logins.ToolLoginAsync(runsAs, options.Value.MaxLifetime, timeout.Token);
            await SetAsync(id, i => i.LoginRole = login.RoleName);
            var host = ToolHosts.HostFor(template, user.UserId);
            var environment = visualisation ? AppEnvironment(template, login) : ToolEnvironment(user, login);
            if (!visualisation)
                foreach (var (name, value) in await storage.EnvironmentAsync(id, user.UserId, timeout.Token)) environment[name] = value;
            var stages = new Progress<string>(stage => _ = SetAsync(id, i => { if (i.State == InstanceState.Spawning) i.Stage = stage; }));
            var launched = await launcher.StartAsync(new LaunchRequest(id, host, ToolHosts.UrlOf(host, links.Root), template, size, runsAs, environment), stages, timeout.Token);
            await SetAsync(id, i => (i.LauncherHandle, i.Address, i.Stage) = (launched.Handle, launched.Address, "waiting for the app"));

            var instance = await FindAsync(id) ?? throw new LaunchException("The tool was stopped while it started.");
            await WaitUntilAnsweringAsync(instance, timeout.Token);
            await SetAsync(id, i =>
            {
                if (i.State != InstanceState.Spawning) return;
                (i.State, i.Stage, i.RunningAt, i.LastActivityAt) = (InstanceState.Running, null, time.GetUtcNow(), time.GetUtcNow());
            });
        }
        catch (Exception exception)
        {
            var message = exception switch
            {
                LaunchException launch => launch.Message,
                OperationCanceledException => $"{template.Name} did not answer within {options.Value.SpawnTimeout.TotalMinutes:0.#} minutes.",
                _ => $"{template.Name} could not be started ({exception.GetType().Name}: {exception.Message}).",
            };
            logger.LogWarning(exception, "Spawning {Tool} instance {Id} failed", template.Name, id);
            try
            {
                await SetAsync(id, i => i.Error = Clip(message, 2000));
                await StopAsync(id, null, Actor.System, "it failed to start: " + message, CancellationToken.None);
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

    /// <summary>Polls the tool's address until it answers HTTP (any status), failing at once if the tool has died.</summary>
    private async Task WaitUntilAnsweringAsync(ToolInstance instance, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (alive, reason) = await launcher.AliveAsync(instance, cancellationToken);
            if (!alive) throw new LaunchException($"{instance.TemplateName} stopped while starting: {reason}.");
            var address = instance.Address ?? await launcher.AddressAsync(instance, cancellationToken);
            if (address is not null)
            {
                instance.Address = address;
                try
                {
                    using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    attempt.CancelAfter(TimeSpan.FromSeconds(2));
                    using var probe = new HttpRequestMessage(HttpMethod.Get, address);
                    using var response = await Probe.SendAsync(probe, HttpCompletionOption.ResponseHeadersRead, attempt.Token);
                    await SetAsync(instance.Id, i => i.Address = address);
                    return;
                }
                catch (Exception exception) when (exception is HttpRequestException || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    // Not listening yet, or not answering yet.
                }
            }

            await Task.Delay(delay, cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(500, delay.TotalMilliseconds * 1.5));
        }
    }

    /// <summary>
    /// What a tool is given: the user's identity, and PG* variables plus a DSN for its own short-lived database
    /// login. Nothing else of the platform's configuration.
    /// </summary>
    private Dictionary<string, string> ToolEnvironment(PlatformIdentity user, UserLogin login)
    {
        var environment = DatabaseEnvironment(login);
        environment["DATAWORKSPACE_USER_ID"] = user.UserId;
        environment["DATAWORKSPACE_USER_EMAIL"] = user.Email;
        environment["DATAWORKSPACE_USER_NAME"] = user.Name;
        environment["DATAWORKSPACE_USER_HASH"] = user.Hash;
        return environment;
    }

    /// <summary>
    /// What a visualisation is given: its own name and its own login (the datasets its developers gave it). Each
    /// viewer's identity comes with each request, in the headers the proxy sets.
    /// </summary>
    private Dictionary<string, string> AppEnvironment(ToolTemplate template, UserLogin login)
    {
        var environment = DatabaseEnvironment(login);
        environment["DATAWORKSPACE_APP"] = template.HostBasename;
        environment["DATAWORKSPACE_APP_NAME"] = template.Name;
        return environment;
    }

    private Dictionary<string, string> DatabaseEnvironment(UserLogin login)
    {
        var server = new NpgsqlConnectionStringBuilder(datasets.ConnectionString);
        var port = server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new()
        {
            ["PGHOST"] = server.Host ?? "localhost",
            ["PGPORT"] = port,
            ["PGDATABASE"] = server.Database ?? "",
            ["PGUSER"] = login.RoleName,
            ["PGPASSWORD"] = login.Password,
            ["DATABASE_DSN__datasets_1"] = $"host={server.Host} port={port} dbname={server.Database} user={login.RoleName} password={login.Password}",
        };
    }

    private static string Clip(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";

    private async Task<ToolInstance?> FindAsync(Guid id)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ToolInstance>().AsNoTracking().FirstOrDefaultAsync(i => i.Id == id);
    }

    private async Task SetAsync(Guid id, Action<ToolInstance> change)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        if (await catalogue.Set<ToolInstance>().FirstOrDefaultAsync(i => i.Id == id) is not { } instance) return;
        change(instance);
        await catalogue.SaveChangesAsync();
        Changed(instance.Host);
    }
}

/// <summary>A start the platform refuses, with the HTTP status and the reason in words for the user.</summary>
public sealed class ToolRefusedException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>Stops idle tools and tools past their maximum lifetime, every <c>Tools:CullInterval</c>.</summary>
public sealed class ToolCuller(ToolInstances tools, IOptions<ToolsOptions> options, ILogger<ToolCuller> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CullInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await tools.CullAsync(stoppingToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // The database may be down for a while: try again at the next tick.
                logger.LogWarning(exception, "Checking tools for idleness failed; trying again in {Interval}", options.Value.CullInterval);
            }
        }
    }
}

/// <summary>
/// Local tools are processes of the web app: when it starts, any it recorded as active whose process is gone died
/// with its previous run, so they are marked stopped (with that reason) rather than shown running.
/// </summary>
public sealed class LocalToolsReconciler(IServiceScopeFactory scopes, ILauncher launcher, IOptions<ToolsOptions> options, TimeProvider time, ILogger<LocalToolsReconciler> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (launcher.Name != "Local") return;
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var now = time.GetUtcNow();
        var active = await catalogue.Set<ToolInstance>().Where(i => i.Launcher == "Local" && i.State != InstanceState.Stopped).ToListAsync(cancellationToken);
        // A spawn that never got a process is judged by the database's clock: the business clock may be moved (a
        // FileOffsetTimeProvider), and a spawn still under way elsewhere must not look years old.
        var spawnTimeout = options.Value.SpawnTimeout;
        var stalled = await catalogue.Set<ToolInstance>()
            .Where(i => i.Launcher == "Local" && i.State != InstanceState.Stopped && i.LauncherHandle == null && i.CreatedAt < DateTimeOffset.UtcNow - spawnTimeout)
            .Select(i => i.Id).ToListAsync(cancellationToken);
        var gone = active.Where(i => i.LauncherHandle is { } handle ? !ProcessExists(handle) : stalled.Contains(i.Id)).ToList();
        foreach (var instance in gone)
            (instance.State, instance.StoppedAt, instance.Stage, instance.StopReason) = (InstanceState.Stopped, now, null, "the platform restarted, and local tools stop with it");
        await catalogue.SaveChangesAsync(cancellationToken);
        if (gone.Count > 0) logger.LogInformation("Marked {Count} local tool instances stopped: they ended with the previous run", gone.Count);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

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
