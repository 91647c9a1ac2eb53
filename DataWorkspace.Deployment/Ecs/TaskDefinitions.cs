using System.Text.Json;
using System.Text.Json.Serialization;

namespace DataWorkspace.Deployment.Ecs;

/// <summary>Task definition documents as ECS reads them: camelCase names, absent values left out.</summary>
public static class EcsJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        // Read by people too: shell commands and <, > and & stay as written.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}

/// <summary>A Fargate task definition as RegisterTaskDefinition takes it (also what <c>aws ecs register-task-definition --cli-input-json</c> reads).</summary>
public sealed record RegisterTaskDefinitionRequest
{
    public required string Family { get; init; }
    public string NetworkMode => "awsvpc";
    public IReadOnlyList<string> RequiresCompatibilities => ["FARGATE"];

    /// <summary>CPU units as ECS writes them ("256" = 0.25 vCPU).</summary>
    public required string Cpu { get; init; }

    /// <summary>MiB as ECS writes them ("512").</summary>
    public required string Memory { get; init; }

    public required string ExecutionRoleArn { get; init; }
    public string? TaskRoleArn { get; init; }
    public required IReadOnlyList<ContainerDefinition> ContainerDefinitions { get; init; }

    /// <summary>Volumes the containers share; one with no host is on the task's own ephemeral storage.</summary>
    public IReadOnlyList<TaskVolume>? Volumes { get; init; }
}

public sealed record TaskVolume(string Name);

public sealed record MountPoint(string SourceVolume, string ContainerPath, bool ReadOnly = false);

public sealed record ContainerDefinition
{
    public required string Name { get; init; }
    public required string Image { get; init; }
    public bool Essential { get; init; } = true;
    public IReadOnlyList<string>? Command { get; init; }
    public IReadOnlyList<EnvironmentVariable>? Environment { get; init; }

    /// <summary>Values ECS reads from SSM Parameter Store or Secrets Manager when the task starts; the definition holds only where they are.</summary>
    public IReadOnlyList<ContainerSecret>? Secrets { get; init; }

    public IReadOnlyList<PortMapping>? PortMappings { get; init; }
    public IReadOnlyList<MountPoint>? MountPoints { get; init; }

    /// <summary>The user (uid or uid:gid) the container runs as instead of its image's USER.</summary>
    public string? User { get; init; }

    /// <summary>The container's hard memory limit in MiB.</summary>
    public int? Memory { get; init; }

    public ContainerHealthCheck? HealthCheck { get; init; }
    public LogConfiguration? LogConfiguration { get; init; }

    /// <summary>Namespaced kernel settings of the container (Fargate allows the network ones).</summary>
    public IReadOnlyList<SystemControl>? SystemControls { get; init; }
}

public sealed record SystemControl(string Namespace, string Value);

public sealed record EnvironmentVariable(string Name, string Value);

/// <summary>An environment variable ECS sets from a secret: <see cref="ValueFrom"/> is an SSM parameter's name or ARN, or a Secrets Manager ARN.</summary>
public sealed record ContainerSecret(string Name, string ValueFrom);

/// <param name="Name">Names the port for ECS Service Connect.</param>
/// <param name="AppProtocol">http, http2 or grpc: how Service Connect treats the port's traffic.</param>
public sealed record PortMapping(int ContainerPort, string Protocol = "tcp", string? Name = null, string? AppProtocol = null);

/// <summary>A command ECS runs inside the container (["CMD", ...]): exit 0 is healthy.</summary>
public sealed record ContainerHealthCheck(IReadOnlyList<string> Command, int Interval = 30, int Timeout = 5, int Retries = 3, int StartPeriod = 30);

/// <summary>A container's log driver, e.g. awslogs with awslogs-group, awslogs-region and awslogs-stream-prefix.</summary>
public sealed record LogConfiguration(string LogDriver, IReadOnlyDictionary<string, string>? Options = null);
