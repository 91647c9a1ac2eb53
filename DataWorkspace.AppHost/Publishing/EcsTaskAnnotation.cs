using DataWorkspace.Deployment.Ecs;

namespace DataWorkspace.AppHost.Publishing;

/// <summary>What a resource becomes on ECS when the graph is published: a service kept running, or a task run once.</summary>
public sealed class EcsTaskAnnotation : IResourceAnnotation
{
    /// <summary>The repository of the resource's image under the registry, e.g. <c>dataworkspace-web</c>.</summary>
    public required string Image { get; init; }

    /// <summary>CPU units (1024 = 1 vCPU) and MiB, as Fargate sizes tasks.</summary>
    public required int Cpu { get; init; }

    public required int Memory { get; init; }

    /// <summary>How many tasks the service keeps running; null for a one-off task (run by hand, e.g. migrations).</summary>
    public int? DesiredCount { get; init; }

    /// <summary>The port the container serves HTTP on: other services reach it there by its Service Connect name.</summary>
    public int? HttpPort { get; init; }

    /// <summary>Further ports the container listens on (e.g. DNS over UDP and TCP).</summary>
    public IReadOnlyList<PortMapping> OtherPorts { get; init; } = [];

    /// <summary>The path the load balancer and ECS check, answered 200 once the service is ready.</summary>
    public string? HealthPath { get; init; }

    /// <summary>The container's own health check; none for a one-off task.</summary>
    public ContainerHealthCheck? HealthCheck { get; init; }

    /// <summary>Whether the public load balancer sends the portal's hosts (the root domain and every tool's) here.</summary>
    public bool Public { get; init; }

    /// <summary>The host under the root domain (e.g. <c>healthcheck</c> for healthcheck.&lt;root domain&gt;) the public load balancer sends here alone.</summary>
    public string? LoadBalancerHost { get; init; }

    /// <summary>The task's IAM role, when it calls AWS itself.</summary>
    public ParameterResource? TaskRole { get; init; }

    public IReadOnlyList<SystemControl>? SystemControls { get; init; }

    /// <summary>The container port (UDP and TCP) the tools' DNS load balancer forwards their port 53 to; null when the service serves no DNS.</summary>
    public int? ToolsDnsPort { get; init; }

    /// <summary>The port of the container's HTTP health endpoint at <see cref="HealthPath"/>, when it is not <see cref="HttpPort"/>.</summary>
    public int? HealthPort { get; init; }

    public bool IsService => DesiredCount is not null;
}

public static class EcsTaskExtensions
{
    /// <summary>The port every platform image serves on: the .NET images' default (ASPNETCORE_HTTP_PORTS=8080).</summary>
    public const int ContainerHttpPort = 8080;

    /// <summary>Published as an ECS service of <paramref name="desiredCount"/> Fargate tasks that ECS and the load balancer check at <paramref name="healthPath"/>.</summary>
    public static IResourceBuilder<T> PublishAsEcsService<T>(this IResourceBuilder<T> resource, string image, int cpu, int memory, int desiredCount, string healthPath,
        bool isPublic = false, IResourceBuilder<ParameterResource>? taskRole = null)
        where T : IResource
    {
        ArgumentNullException.ThrowIfNull(resource);
        return resource.WithAnnotation(new EcsTaskAnnotation
        {
            Image = image, Cpu = cpu, Memory = memory, DesiredCount = desiredCount, HttpPort = ContainerHttpPort, HealthPath = healthPath,
            HealthCheck = EcsHealthChecks.HttpWithBash(ContainerHttpPort, healthPath), Public = isPublic, TaskRole = taskRole?.Resource,
        });
    }

    /// <summary>Published as a Fargate task definition that is run once per deployment (<c>aws ecs run-task</c>), not kept running.</summary>
    public static IResourceBuilder<T> PublishAsEcsOneOffTask<T>(this IResourceBuilder<T> resource, string image, int cpu, int memory)
        where T : IResource
    {
        ArgumentNullException.ThrowIfNull(resource);
        return resource.WithAnnotation(new EcsTaskAnnotation { Image = image, Cpu = cpu, Memory = memory });
    }

    /// <summary>
    /// Published as an ECS service of the sidecars image serving HTTP on <see cref="ContainerHttpPort"/>, which the public
    /// load balancer reaches at <c>&lt;host&gt;.&lt;root domain&gt;</c> only, checking <paramref name="healthPath"/>.
    /// </summary>
    public static IResourceBuilder<T> PublishAsEcsSidecarWebService<T>(this IResourceBuilder<T> resource, string image, int cpu, int memory, int desiredCount,
        string healthPath, string loadBalancerHost)
        where T : IResource
    {
        ArgumentNullException.ThrowIfNull(resource);
        return resource.WithAnnotation(new EcsTaskAnnotation
        {
            Image = image, Cpu = cpu, Memory = memory, DesiredCount = desiredCount, HttpPort = ContainerHttpPort, HealthPath = healthPath,
            HealthCheck = EcsHealthChecks.WithSidecar(ContainerHttpPort, healthPath), LoadBalancerHost = loadBalancerHost,
        });
    }

    /// <summary>Published as an ECS service of the sidecars image, checked by the image's own <c>healthcheck</c> command.</summary>
    public static IResourceBuilder<T> PublishAsEcsSidecarService<T>(this IResourceBuilder<T> resource, string image, int cpu, int memory, int desiredCount,
        int healthPort, string healthPath, IReadOnlyList<PortMapping> ports, int? toolsDnsPort = null)
        where T : IResource
    {
        ArgumentNullException.ThrowIfNull(resource);
        return resource.WithAnnotation(new EcsTaskAnnotation
        {
            Image = image, Cpu = cpu, Memory = memory, DesiredCount = desiredCount, OtherPorts = ports, HealthPath = healthPath,
            HealthCheck = EcsHealthChecks.WithSidecar(healthPort, healthPath), HealthPort = healthPort, ToolsDnsPort = toolsDnsPort,
            // The image runs as a non-root user, which may then listen on ports below 1024 too (DNS's 53).
            SystemControls = ports.Any(p => p.ContainerPort < 1024) ? [new SystemControl("net.ipv4.ip_unprivileged_port_start", "0")] : null,
        });
    }
}

/// <summary>
/// Container health checks run inside the container, and the platform's images carry neither curl nor a shell tool
/// that speaks HTTP: the .NET apps' images (runtime-deps, Ubuntu, not chiseled) have bash, whose /dev/tcp asks the
/// app's own health endpoint; the sidecars image has its own <c>healthcheck</c> command. Both address the task itself.
/// </summary>
public static class EcsHealthChecks
{
    /// <summary>Where the sidecars image's executable is (the .NET SDK's container layout: /app/&lt;assembly&gt;).</summary>
    public const string SidecarExecutable = "/app/dataworkspace-sidecar";

    public static ContainerHealthCheck HttpWithBash(int port, string path) => new(
        ["CMD", "bash", "-c", $"exec 3<>/dev/tcp/localhost/{port} && printf 'GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"],
        StartPeriod: 60);

    public static ContainerHealthCheck WithSidecar(int port, string path) => new(
        ["CMD", SidecarExecutable, "healthcheck", "--url", $"http://localhost:{port}{path}"]);
}
