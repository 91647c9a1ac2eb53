using System.Globalization;
using DataWorkspace.Contracts;
using DataWorkspace.Deployment.Ecs;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Tools.Ecs;

/// <summary>
/// Runs tools as Fargate tasks: a task definition family per user and tool (<c>&lt;basename&gt;-&lt;userhash8&gt;</c>)
/// registered from the template and size, run in private subnets with no public IP, the user's environment as an
/// override, and the s3sync and metrics sidecars beside the tool. The address is the task's private IP once RUNNING.
/// </summary>
public sealed class EcsLauncher(EcsClient ecs, IOptions<EcsOptions> options, ILogger<EcsLauncher> logger) : ILauncher
{
    public const string ToolContainer = ToolTaskDefinition.ToolContainer;
    public const string S3SyncContainer = ToolTaskDefinition.S3SyncContainer;
    public const int MetricsPort = ToolTaskDefinition.MetricsPort;
    public const string HomeFolder = ToolTaskDefinition.HomeFolder;

    public string Name => "Ecs";

    public string? Unavailable(ToolTemplate template) =>
        string.IsNullOrWhiteSpace(template.Image) ? $"{template.Name} has no container image, so it cannot run on ECS." : null;

    public async Task<LaunchedTool> StartAsync(LaunchRequest request, IProgress<ToolStage> stage, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var template = request.Template;
        stage.Report(ToolStage.Provisioning);
        var sidecars = !string.IsNullOrWhiteSpace(settings.SidecarImage);
        var definition = await ecs.RegisterTaskDefinitionAsync(ToolTaskDefinition.Build(new ToolTask(
            request.Host,
            template.Image ?? throw new LaunchException(Unavailable(template)!),
            template.Port,
            template.Environment,
            request.Size.CpuUnits,
            request.Size.MemoryMb,
            settings.Region,
            settings.ExecutionRoleArn,
            settings.TaskRoleArn,
            settings.SidecarImage)), cancellationToken);

        stage.Report(ToolStage.Pulling);
        var task = await ecs.RunTaskAsync(new RunTaskRequest
        {
            Cluster = settings.Cluster,
            TaskDefinition = definition.FamilyRevision,
            NetworkConfiguration = new(new AwsvpcConfiguration(Split(settings.Subnets), Split(settings.SecurityGroups))),
            Overrides = new([
                    new ContainerOverride(ToolContainer, [.. request.Environment.Select(e => new EnvironmentVariable(e.Key, e.Value))]),
                    .. sidecars ? [new ContainerOverride(S3SyncContainer, [.. request.Environment.Where(e => IsStorageSetting(e.Key)).Select(e => new EnvironmentVariable(e.Key, e.Value))])] : Array.Empty<ContainerOverride>(),
                ],
                string.IsNullOrWhiteSpace(settings.UserTaskRoleArn) ? null : settings.UserTaskRoleArn.Replace("{userhash}", DataWorkspace.Contracts.UserHash.Of(request.UserId), StringComparison.Ordinal)),
            StartedBy = request.Host.Length <= 36 ? request.Host : request.Host[..36],
            Tags = [new("dataworkspace:user", request.UserId), new("dataworkspace:tool", template.HostBasename)],
            ClientToken = request.InstanceId.ToString("N"),
        }, cancellationToken);
        logger.LogInformation("Started {Tool} for {Host} as task {Task}", template.Name, request.Host, task.TaskArn);
        // The handle carries the tool's port with the task, so any replica can work out the address from it.
        var handle = $"{task.TaskArn}#{template.Port}";
        return new LaunchedTool(handle, await RunningAddressAsync(task.TaskArn, template.Port, stage, cancellationToken));
    }

    /// <summary>
    /// Follows the task until it runs, telling the progress page what ECS is doing (provisioning its network,
    /// pulling images, starting containers); its private address once RUNNING. A task that stops instead fails the
    /// spawn with ECS's reason.
    /// </summary>
    private async Task<string> RunningAddressAsync(string taskArn, int port, IProgress<ToolStage> stage, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            var found = await ecs.DescribeTasksAsync(options.Value.Cluster, [taskArn], cancellationToken);
            if (found.Tasks.FirstOrDefault() is { } task)
            {
                if (task.LastStatus is "STOPPED" or "DEPROVISIONING" or "STOPPING")
                    throw new LaunchException($"Its ECS task stopped while starting: {task.StoppedReason ?? task.Containers.FirstOrDefault(c => c.Name == ToolContainer)?.Reason ?? "no reason given"}.");
                if (task.LastStatus == "RUNNING" && EcsTaskAddress.PrivateIp(task) is { } ip) return $"http://{ip}:{port}";
                stage.Report(task.LastStatus switch
                {
                    "PROVISIONING" => ToolStage.Provisioning,
                    "PENDING" => ToolStage.Pulling,
                    _ => ToolStage.Starting,
                });
            }

            await Task.Delay(delay, cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(2000, delay.TotalMilliseconds * 1.5));
        }
    }

    public async Task<string?> AddressAsync(ToolInstance instance, CancellationToken cancellationToken)
    {
        if (Handle(instance) is not var (taskArn, port)) return null;
        var found = await ecs.DescribeTasksAsync(options.Value.Cluster, [taskArn], cancellationToken);
        return found.Tasks.FirstOrDefault() is { LastStatus: "RUNNING" } task && EcsTaskAddress.PrivateIp(task) is { } ip ? $"http://{ip}:{port}" : null;
    }

    public async Task<(bool Alive, string? Reason)> AliveAsync(ToolInstance instance, CancellationToken cancellationToken)
    {
        if (Handle(instance) is not var (taskArn, _)) return (true, null);
        var found = await ecs.DescribeTasksAsync(options.Value.Cluster, [taskArn], cancellationToken);
        if (found.Tasks.FirstOrDefault() is not { } task) return (false, "ECS no longer knows its task");
        return task.LastStatus is "STOPPED" or "DEPROVISIONING" || task.DesiredStatus == "STOPPED"
            ? (false, $"its task stopped ({task.StoppedReason ?? task.Containers.FirstOrDefault(c => c.Name == ToolContainer)?.Reason ?? "no reason given"})")
            : (true, null);
    }

    public async Task StopAsync(ToolInstance instance, CancellationToken cancellationToken)
    {
        if (Handle(instance) is not var (taskArn, _)) return;
        try
        {
            await ecs.StopTaskAsync(options.Value.Cluster, taskArn, "Stopped by Data Workspace", cancellationToken);
        }
        catch (EcsException exception) when (exception.ErrorCode is "InvalidParameterException" or "ResourceNotFoundException")
        {
            // Already gone.
        }
    }

    /// <summary>
    /// With a role per user, the task runs as its user's role and the SDKs in it renew those credentials from the ECS
    /// agent by themselves (static keys in its environment would take precedence, so none are given); without one, null.
    /// </summary>
    public IReadOnlyDictionary<string, string>? RenewingCredentials(Guid instanceId) =>
        string.IsNullOrWhiteSpace(options.Value.UserTaskRoleArn) ? null : new Dictionary<string, string>();

    /// <summary>Ids may also come comma-separated in one value (one deployment parameter).</summary>
    // Only S3 and its credentials reach s3sync: the tool's database login is the tool's alone.
    private static bool IsStorageSetting(string name) => name.StartsWith("S3_", StringComparison.Ordinal) || name.StartsWith("AWS_", StringComparison.Ordinal);

    private static List<string> Split(IEnumerable<string> values) =>
        [.. values.SelectMany(value => value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))];

    private static (string TaskArn, int Port)? Handle(ToolInstance instance)
    {
        if (instance.LauncherHandle is not { } handle) return null;
        var hash = handle.LastIndexOf('#');
        return hash > 0 && int.TryParse(handle.AsSpan(hash + 1), CultureInfo.InvariantCulture, out var port) ? (handle[..hash], port) : (handle, 8888);
    }
}
