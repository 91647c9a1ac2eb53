using System.Globalization;

namespace DataWorkspace.Deployment.Ecs;

/// <summary>What a tool's task needs: its template's image, port and environment, its size, and where it logs.</summary>
/// <param name="Family">The task definition family, <c>&lt;basename&gt;-&lt;userhash8&gt;</c>; also its log stream prefix.</param>
/// <param name="SidecarImage">The sidecars image (s3sync, metrics) run beside the tool; none when null or empty.</param>
public sealed record ToolTask(
    string Family,
    string Image,
    int Port,
    IEnumerable<KeyValuePair<string, string>> Environment,
    int CpuUnits,
    int MemoryMb,
    string Region,
    string ExecutionRoleArn,
    string? TaskRoleArn,
    string? SidecarImage);

/// <summary>
/// The task definition of a user's tool: the tool, and beside it the s3sync sidecar (keeping the home folder, a volume
/// they share, in step with the user's S3 prefix) and the metrics sidecar Prometheus scrapes. The ECS launcher
/// registers it at each launch and the AppHost publishes it, so both come from here.
/// </summary>
public static class ToolTaskDefinition
{
    public const string ToolContainer = "tool";
    public const string S3SyncContainer = "s3sync";
    public const string MetricsContainer = "metrics";

    /// <summary>The port of the metrics sidecar beside each tool, which Prometheus scrapes.</summary>
    public const int MetricsPort = 8889;

    /// <summary>The tool's home folder, a volume of the task shared with the s3sync sidecar.</summary>
    public const string HomeFolder = "/home/analyst";

    /// <summary>The CloudWatch Logs group tools write to.</summary>
    public const string LogGroup = "dataworkspace-tools";

    /// <summary>Each sidecar's hard memory limit; the tool gets the rest of the task's memory.</summary>
    public const int SidecarMemoryMb = 128;

    /// <summary>
    /// The user owning the home folder, as uid:gid: the tool images' user, the same as the platform's own images'
    /// (ContainerUser in Directory.Build.props, the .NET images' "app" user).
    /// </summary>
    public const string HomeOwner = "1654:1654";

    private const string HomeVolume = "home";

    public static RegisterTaskDefinitionRequest Build(ToolTask tool)
    {
        ArgumentNullException.ThrowIfNull(tool);
        var sidecars = !string.IsNullOrWhiteSpace(tool.SidecarImage);
        var containers = new List<ContainerDefinition>
        {
            new()
            {
                Name = ToolContainer,
                Image = tool.Image,
                PortMappings = [new PortMapping(tool.Port)],
                Memory = tool.MemoryMb - (sidecars ? 2 * SidecarMemoryMb : 0),
                Environment = [.. tool.Environment.Select(e => new EnvironmentVariable(e.Key, e.Value)), .. sidecars ? [new EnvironmentVariable("HOME", HomeFolder)] : Array.Empty<EnvironmentVariable>()],
                MountPoints = sidecars ? [new MountPoint(HomeVolume, HomeFolder)] : null,
                LogConfiguration = new("awslogs", new Dictionary<string, string>
                {
                    ["awslogs-group"] = LogGroup, ["awslogs-region"] = tool.Region, ["awslogs-stream-prefix"] = tool.Family,
                }),
            },
        };
        if (sidecars)
        {
            // s3sync gets the tool's S3 settings with the run; metrics reads the task's figures from ECS_CONTAINER_METADATA_URI_V4, which ECS sets.
            containers.Add(new()
            {
                Name = S3SyncContainer, Image = tool.SidecarImage!, Essential = false, Command = ["s3sync", "--local", HomeFolder], Memory = SidecarMemoryMb,
                MountPoints = [new MountPoint(HomeVolume, HomeFolder)],
                // Fargate makes a task's bind-mount volume root-owned 0755, unless the image declares a VOLUME at the mount
                // path, whose contents and ownership ECS copies in: the tool image's home, owned by its user. s3sync runs as
                // that user, so it can write there and the tool can change what it downloads.
                User = HomeOwner,
            });
            containers.Add(new()
            {
                Name = MetricsContainer, Image = tool.SidecarImage!, Essential = false, Command = ["metrics"], Memory = SidecarMemoryMb,
                PortMappings = [new PortMapping(MetricsPort)],
            });
        }

        return new RegisterTaskDefinitionRequest
        {
            Family = tool.Family,
            Cpu = tool.CpuUnits.ToString(CultureInfo.InvariantCulture),
            Memory = tool.MemoryMb.ToString(CultureInfo.InvariantCulture),
            ExecutionRoleArn = tool.ExecutionRoleArn,
            TaskRoleArn = tool.TaskRoleArn,
            ContainerDefinitions = containers,
            Volumes = sidecars ? [new TaskVolume(HomeVolume)] : null,
        };
    }
}
