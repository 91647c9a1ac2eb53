using DataWorkspace.Contracts;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Portal;
using DataWorkspace.Web.Telemetry;
using Microsoft.Extensions.Options;
using Npgsql;
using DataWorkspace.Web.Time;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// Starts one recorded instance in named steps, each recorded as the stage the progress page shows: a database login,
/// the environment, the launch, then waiting until it answers HTTP. All within <c>Tools:SpawnTimeout</c>.
/// </summary>
public sealed class ToolSpawner(
    ToolInstanceRecords records,
    ILauncher launcher,
    DatabaseLogins logins,
    ToolStorage storage,
    [FromKeyedServices(DatasetsDatabase.ConnectionName)] NpgsqlDataSource datasets,
    PortalLinks links,
    IOptions<ToolsOptions> options,
    [FromKeyedServices(Clock.Real)] TimeProvider time,
    ToolsInstruments instruments,
    ILogger<ToolSpawner> logger)
{
    /// <summary>Asks a starting tool whether it answers: once per try, no retries or resilience pipeline of its own.</summary>
    private static readonly HttpClient Probe = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false, ConnectTimeout = TimeSpan.FromSeconds(2) });

    /// <summary>Null once the instance runs and answers; otherwise why it did not start, in words for the user.</summary>
    public async Task<string?> SpawnAsync(Guid id, ToolTemplate template, ToolSize size, PlatformIdentity user)
    {
        using var timeout = new CancellationTokenSource(options.Value.SpawnTimeout);
        using var spawn = WebTelemetry.Activities.StartActivity("tool spawn");
        spawn?.SetTag("dataworkspace.tool.name", template.Name);
        spawn?.SetTag("dataworkspace.tool.instance_id", id.ToString());
        spawn?.SetTag("dataworkspace.tools.launcher", launcher.Name);
        using var stages = new SpawnStages(instruments, launcher.Name, spawn);
        try
        {
            stages.Enter(ToolStage.Provisioning);
            await records.SetAsync(id, i => i.Stage = ToolStage.Provisioning);
            // A user's tool reads as its user; a visualisation as itself, whoever opened it first.
            var runsAs = template.Kind == ToolKind.Visualisation ? ToolHosts.AppUserId(template.HostBasename) : user.UserId;
            var login = await LoginAsync(id, runsAs, timeout.Token);
            var environment = await EnvironmentAsync(id, template, user, login, timeout.Token);
            await LaunchAsync(id, template, size, user, runsAs, environment, stages, timeout.Token);
            var instance = await records.FindAsync(id) ?? throw new LaunchException("The tool was stopped while it started.");
            await WaitUntilAnsweringAsync(instance, timeout.Token);
            await MarkRunningAsync(id);
            return null;
        }
        catch (Exception exception)
        {
            stages.Fail(exception);
            spawn.Failed(exception);
            logger.LogWarning(exception, "Spawning {Tool} instance {Id} failed", template.Name, id);
            return exception switch
            {
                LaunchException launch => launch.Message,
                OperationCanceledException => $"{template.Name} did not answer within {options.Value.SpawnTimeout.TotalMinutes:0.#} minutes.",
                _ => $"{template.Name} could not be started ({exception.GetType().Name}: {exception.Message}).",
            };
        }
    }

    private async Task<UserLogin> LoginAsync(Guid id, string runsAs, CancellationToken cancellationToken)
    {
        var login = await logins.ToolLoginAsync(runsAs, options.Value.MaxLifetime, cancellationToken);
        await records.SetAsync(id, i => i.LoginRole = login.RoleName);
        return login;
    }

    private async Task<Dictionary<string, string>> EnvironmentAsync(Guid id, ToolTemplate template, PlatformIdentity user, UserLogin login, CancellationToken cancellationToken)
    {
        if (template.Kind == ToolKind.Visualisation) return ToolEnvironment.ForVisualisation(template, login, datasets.ConnectionString);
        var environment = ToolEnvironment.ForUser(user, login, datasets.ConnectionString);
        foreach (var (name, value) in await storage.EnvironmentAsync(id, user.UserId, cancellationToken)) environment[name] = value;
        return environment;
    }

    private async Task LaunchAsync(Guid id, ToolTemplate template, ToolSize size, PlatformIdentity user, string runsAs,
        Dictionary<string, string> environment, SpawnStages stages, CancellationToken cancellationToken)
    {
        var host = ToolHosts.HostFor(template, user.UserId);
        var reports = new StageReports(stage =>
        {
            stages.Enter(stage);
            _ = records.SetAsync(id, i => { if (i.State == ToolInstanceState.Spawning) i.Stage = stage; });
        });
        var launched = await launcher.StartAsync(new LaunchRequest(id, host, ToolHosts.UrlOf(host, links.Root), template, size, runsAs, environment), reports, cancellationToken);
        stages.Enter(ToolStage.WaitingForTheApp);
        await records.SetAsync(id, i => (i.LauncherHandle, i.Address, i.Stage) = (launched.Handle, launched.Address, ToolStage.WaitingForTheApp));
    }

    /// <summary>A launcher's stages as it reports them, in order (<see cref="Progress{T}"/> would post them to the thread pool).</summary>
    private sealed class StageReports(Action<ToolStage> report) : IProgress<ToolStage>
    {
        public void Report(ToolStage value) => report(value);
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
                    await records.SetAsync(instance.Id, i => i.Address = address);
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

    private Task MarkRunningAsync(Guid id) => records.SetAsync(id, i =>
    {
        if (i.State != ToolInstanceState.Spawning) return;
        (i.State, i.Stage, i.RunningAt, i.LastActivityAt) = (ToolInstanceState.Running, null, time.GetUtcNow(), time.GetUtcNow());
    });
}
