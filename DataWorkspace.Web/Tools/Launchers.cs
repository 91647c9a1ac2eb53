using DataWorkspace.Contracts;

namespace DataWorkspace.Web.Tools;

/// <summary>What a launcher needs to start one instance; <paramref name="Url"/> is where users reach it, through the proxy.</summary>
public sealed record LaunchRequest(
    Guid InstanceId,
    string Host,
    Uri Url,
    ToolTemplate Template,
    ToolSize Size,
    string UserId,
    IReadOnlyDictionary<string, string> Environment);

/// <summary>A started instance: the launcher's handle on it (process id, task ARN) and, once known, its address.</summary>
public sealed record LaunchedTool(string Handle, string? Address);

/// <summary>Runs tool instances somewhere: as local processes, or as ECS tasks. The web app decides; launchers do.</summary>
public interface ILauncher
{
    string Name { get; }

    /// <summary>Why this launcher cannot run the template here (in words for the user), or null when it can.</summary>
    string? Unavailable(ToolTemplate template);

    /// <summary>Starts the instance, reporting stages as it goes; returns once it is started (not necessarily answering).</summary>
    Task<LaunchedTool> StartAsync(LaunchRequest request, IProgress<ToolStage> stage, CancellationToken cancellationToken);

    /// <summary>The address once the instance has one (ECS: when the task has its IP); null while it is not known yet.</summary>
    Task<string?> AddressAsync(ToolInstance instance, CancellationToken cancellationToken);

    /// <summary>Whether the instance still runs (a process that exited, a task that stopped: false), and why not.</summary>
    Task<(bool Alive, string? Reason)> AliveAsync(ToolInstance instance, CancellationToken cancellationToken);

    Task StopAsync(ToolInstance instance, CancellationToken cancellationToken);

    /// <summary>
    /// Variables with which a tool's AWS SDK fetches, by itself, credentials that renew for as long as the tool runs
    /// (an empty set when the platform it runs on provides them, as ECS does for a task role); null when this launcher
    /// has no such source, and the tool is given credentials that last <c>Storage:CredentialLifetime</c>.
    /// </summary>
    IReadOnlyDictionary<string, string>? RenewingCredentials(Guid instanceId);
}
