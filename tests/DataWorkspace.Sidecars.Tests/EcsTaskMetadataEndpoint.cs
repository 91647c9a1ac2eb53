using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Sidecars.Tests;

/// <summary>
/// A stand-in for the ECS task metadata endpoint v4 on a loopback port (ECS cannot run here): it answers <c>/task</c>
/// and <c>/task/stats</c> with JSON in the documented shapes of a Fargate task (platform 1.4, cgroup v1 Docker stats)
/// running a tool, a second container and the s3sync and metrics sidecars. <see cref="Answer"/> makes it fail.
/// </summary>
public sealed class EcsTaskMetadataEndpoint : IAsyncDisposable
{
    public const string TaskArn = "arn:aws:ecs:eu-west-2:123456789012:task/data-workspace-tools/4f3c6b7e0d8a4f0e9a6c1b2d3e4f5a6b";
    public const string Cluster = "arn:aws:ecs:eu-west-2:123456789012:cluster/data-workspace-tools";
    public const string Family = "jupyterlab-python-3f2a9c1d";
    public const string Revision = "4";

    public static readonly ContainerFigures Tool = new("tool", "4f3c6b7e0d8a4f0e9a6c1b2d3e4f5a6b-1845920411")
    {
        CpuNanoseconds = 123_456_789_012, Periods = 86_400, ThrottledPeriods = 1_200, ThrottledNanoseconds = 45_000_000_000,
        MemoryUsage = 734_003_200, InactiveFile = 104_857_600, MemoryLimit = 3_758_096_384,
        ReceiveBytes = 2_398_415_937, TransmitBytes = 1_259_037_719, ReceivePackets = 2_898_378, TransmitPackets = 428_002,
        ReadBytes = 104_857_600, WriteBytes = 52_428_800,
    };

    public static readonly ContainerFigures Worker = new("worker", "4f3c6b7e0d8a4f0e9a6c1b2d3e4f5a6b-2937114588")
    {
        CpuNanoseconds = 9_876_543_210, Periods = 0, ThrottledPeriods = 0, ThrottledNanoseconds = 0,
        MemoryUsage = 157_286_400, InactiveFile = 20_971_520, MemoryLimit = 268_435_456,
        ReceiveBytes = 2_398_415_937, TransmitBytes = 1_259_037_719, ReceivePackets = 2_898_378, TransmitPackets = 428_002,
        ReadBytes = 4_194_304, WriteBytes = 1_048_576,
    };

    public static readonly ContainerFigures S3Sync = new("s3sync", "4f3c6b7e0d8a4f0e9a6c1b2d3e4f5a6b-0539818221")
    {
        CpuNanoseconds = 3_210_000_000, MemoryUsage = 62_914_560, InactiveFile = 1_048_576, MemoryLimit = 134_217_728,
        ReceiveBytes = 2_398_415_937, TransmitBytes = 1_259_037_719, ReceivePackets = 2_898_378, TransmitPackets = 428_002,
        ReadBytes = 8_388_608, WriteBytes = 0,
    };

    public static readonly ContainerFigures Metrics = new("metrics", "4f3c6b7e0d8a4f0e9a6c1b2d3e4f5a6b-3359141873")
    {
        CpuNanoseconds = 1_100_000_000, MemoryUsage = 41_943_040, InactiveFile = 0, MemoryLimit = 134_217_728,
        ReceiveBytes = 2_398_415_937, TransmitBytes = 1_259_037_719, ReceivePackets = 2_898_378, TransmitPackets = 428_002,
        ReadBytes = 0, WriteBytes = 0,
    };

    private readonly WebApplication app;

    public EcsTaskMetadataEndpoint(int port)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, port));
        app = builder.Build();
        app.MapGet("/v4/{containerId}/task", () => Respond(TaskJson()));
        app.MapGet("/v4/{containerId}/task/stats", () => Respond(StatsJson()));
        // As on Fargate, the address names the asking container (here the metrics sidecar).
        Uri = new Uri($"http://127.0.0.1:{port}/v4/{Metrics.DockerId}");
    }

    public Uri Uri { get; }

    /// <summary>What the endpoint answers now: the task's figures, or a failure.</summary>
    public MetadataAnswer Answer { get; set; } = MetadataAnswer.Figures;

    /// <summary>The tool's figures as served now; tests advance them to see new figures after a failure.</summary>
    public ContainerFigures CurrentTool { get; set; } = Tool;

    public Task StartAsync(CancellationToken cancellationToken) => app.StartAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }

    private IResult Respond(string json) => Answer switch
    {
        MetadataAnswer.ServerError => Results.Text("Internal Server Error\n", "text/plain", statusCode: 500),
        MetadataAnswer.NotJson => Results.Text("<html><body>agent restarting</body></html>", "text/html"),
        _ => Results.Text(json, "application/json"),
    };

    private string TaskJson() => $$"""
        {
          "Cluster": "{{Cluster}}",
          "TaskARN": "{{TaskArn}}",
          "Family": "{{Family}}",
          "Revision": "{{Revision}}",
          "DesiredStatus": "RUNNING",
          "KnownStatus": "RUNNING",
          "Limits": { "CPU": 1, "Memory": 4096 },
          "PullStartedAt": "2026-12-04T09:58:01.417227612Z",
          "PullStoppedAt": "2026-12-04T09:58:21.850183522Z",
          "AvailabilityZone": "eu-west-2a",
          "LaunchType": "FARGATE",
          "Containers": [
            {{ContainerJson(CurrentTool, "123456789012.dkr.ecr.eu-west-2.amazonaws.com/jupyterlab-python:2026-11-20", 512)}},
            {{ContainerJson(Worker, "123456789012.dkr.ecr.eu-west-2.amazonaws.com/jupyterlab-python-worker:2026-11-20", 0)}},
            {{ContainerJson(S3Sync, "123456789012.dkr.ecr.eu-west-2.amazonaws.com/dataworkspace-sidecar:1.0", 0)}},
            {{ContainerJson(Metrics, "123456789012.dkr.ecr.eu-west-2.amazonaws.com/dataworkspace-sidecar:1.0", 0)}}
          ],
          "ClockDrift": {
            "ClockErrorBound": 0.4467,
            "ReferenceTimestamp": "2026-12-04T10:15:00Z",
            "ClockSynchronizationStatus": "SYNCHRONIZED"
          },
          "EphemeralStorageMetrics": { "Utilized": 1824, "Reserved": 20496 }
        }
        """;

    private static string ContainerJson(ContainerFigures container, string image, int cpuUnits) => $$"""
        {
          "DockerId": "{{container.DockerId}}",
          "Name": "{{container.Name}}",
          "DockerName": "{{container.Name}}",
          "Image": "{{image}}",
          "ImageID": "sha256:8f1b5d7c2e9a4b3c6d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e",
          "Labels": {
            "com.amazonaws.ecs.cluster": "{{Cluster}}",
            "com.amazonaws.ecs.container-name": "{{container.Name}}",
            "com.amazonaws.ecs.task-arn": "{{TaskArn}}",
            "com.amazonaws.ecs.task-definition-family": "{{Family}}",
            "com.amazonaws.ecs.task-definition-version": "{{Revision}}"
          },
          "DesiredStatus": "RUNNING",
          "KnownStatus": "RUNNING",
          "Limits": { "CPU": {{cpuUnits}}, "Memory": {{container.MemoryLimit / 1024 / 1024}} },
          "CreatedAt": "2026-12-04T09:58:22.100364291Z",
          "StartedAt": "2026-12-04T09:58:23.431127745Z",
          "Type": "NORMAL",
          "ContainerARN": "arn:aws:ecs:eu-west-2:123456789012:container/data-workspace-tools/4f3c6b7e0d8a4f0e9a6c1b2d3e4f5a6b/{{container.Name}}",
          "LogDriver": "awslogs",
          "LogOptions": {
            "awslogs-group": "/ecs/tools",
            "awslogs-region": "eu-west-2",
            "awslogs-stream": "{{container.Name}}/{{container.Name}}/4f3c6b7e0d8a4f0e9a6c1b2d3e4f5a6b"
          },
          "Networks": [
            {
              "NetworkMode": "awsvpc",
              "IPv4Addresses": [ "10.0.12.34" ],
              "AttachmentIndex": 0,
              "MACAddress": "0a:9c:2f:71:5e:13",
              "IPv4SubnetCIDRBlock": "10.0.12.0/24",
              "DomainNameServers": [ "10.0.0.2" ],
              "DomainNameSearchList": [ "eu-west-2.compute.internal" ],
              "PrivateDNSName": "ip-10-0-12-34.eu-west-2.compute.internal",
              "SubnetGatewayIpv4Address": "10.0.12.1/24"
            }
          ],
          "Snapshotter": "overlayfs"
        }
        """;

    private string StatsJson() => $$"""
        {
          "{{CurrentTool.DockerId}}": {{(Answer == MetadataAnswer.ToolNotStarted ? "null" : DockerStats(CurrentTool))}},
          "{{Worker.DockerId}}": {{DockerStats(Worker)}},
          "{{S3Sync.DockerId}}": {{DockerStats(S3Sync)}},
          "{{Metrics.DockerId}}": {{DockerStats(Metrics)}}
        }
        """;

    private static string DockerStats(ContainerFigures c)
    {
        var cpu = CpuJson(c.CpuNanoseconds, c.Periods, c.ThrottledPeriods, c.ThrottledNanoseconds, 4_312_340_000_000);
        var precpu = CpuJson(c.CpuNanoseconds - c.CpuNanoseconds / 100, c.Periods - c.Periods / 100, c.ThrottledPeriods, c.ThrottledNanoseconds, 4_292_340_000_000);
        return $$"""
            {
              "read": "2026-12-04T10:15:32.123456789Z",
              "preread": "2026-12-04T10:15:22.120083516Z",
              "pids_stats": { "current": 14 },
              "blkio_stats": {
                "io_service_bytes_recursive": [
                  { "major": 259, "minor": 3, "op": "Read", "value": {{c.ReadBytes}} },
                  { "major": 259, "minor": 3, "op": "Write", "value": {{c.WriteBytes}} },
                  { "major": 259, "minor": 3, "op": "Sync", "value": {{c.WriteBytes / 2}} },
                  { "major": 259, "minor": 3, "op": "Async", "value": {{c.ReadBytes + c.WriteBytes - c.WriteBytes / 2}} },
                  { "major": 259, "minor": 3, "op": "Discard", "value": 0 },
                  { "major": 259, "minor": 3, "op": "Total", "value": {{c.ReadBytes + c.WriteBytes}} }
                ],
                "io_serviced_recursive": [
                  { "major": 259, "minor": 3, "op": "Read", "value": {{c.ReadBytes / 4096}} },
                  { "major": 259, "minor": 3, "op": "Write", "value": {{c.WriteBytes / 4096}} },
                  { "major": 259, "minor": 3, "op": "Total", "value": {{(c.ReadBytes + c.WriteBytes) / 4096}} }
                ],
                "io_queue_recursive": [],
                "io_service_time_recursive": [],
                "io_wait_time_recursive": [],
                "io_merged_recursive": [],
                "io_time_recursive": [],
                "sectors_recursive": []
              },
              "num_procs": 0,
              "storage_stats": {},
              "cpu_stats": {{cpu}},
              "precpu_stats": {{precpu}},
              "memory_stats": {
                "usage": {{c.MemoryUsage}},
                "max_usage": {{c.MemoryUsage + c.MemoryUsage / 4}},
                "stats": {
                  "active_anon": {{c.MemoryUsage - c.InactiveFile * 2}},
                  "active_file": {{c.InactiveFile}},
                  "cache": {{c.InactiveFile * 2}},
                  "dirty": 0,
                  "hierarchical_memory_limit": {{c.MemoryLimit}},
                  "hierarchical_memsw_limit": 9223372036854771712,
                  "inactive_anon": 0,
                  "inactive_file": {{c.InactiveFile}},
                  "mapped_file": 0,
                  "pgfault": 1889112,
                  "pgmajfault": 0,
                  "pgpgin": 610321,
                  "pgpgout": 431254,
                  "rss": {{c.MemoryUsage - c.InactiveFile * 2}},
                  "rss_huge": 0,
                  "total_active_anon": {{c.MemoryUsage - c.InactiveFile * 2}},
                  "total_active_file": {{c.InactiveFile}},
                  "total_cache": {{c.InactiveFile * 2}},
                  "total_inactive_anon": 0,
                  "total_inactive_file": {{c.InactiveFile}},
                  "total_rss": {{c.MemoryUsage - c.InactiveFile * 2}},
                  "unevictable": 0
                },
                "limit": {{c.MemoryLimit}}
              },
              "name": "{{c.Name}}",
              "id": "{{c.DockerId}}",
              "networks": {
                "eth1": {
                  "rx_bytes": {{c.ReceiveBytes}},
                  "rx_packets": {{c.ReceivePackets}},
                  "rx_errors": 0,
                  "rx_dropped": 0,
                  "tx_bytes": {{c.TransmitBytes}},
                  "tx_packets": {{c.TransmitPackets}},
                  "tx_errors": 0,
                  "tx_dropped": 0
                }
              },
              "network_rate_stats": {
                "rx_bytes_per_sec": 18452.7,
                "tx_bytes_per_sec": 3310.2
              }
            }
            """;
    }

    private static string CpuJson(long total, long periods, long throttledPeriods, long throttledTime, long system) => $$"""
        {
          "cpu_usage": {
            "total_usage": {{total}},
            "percpu_usage": [ {{total / 2}}, {{total - total / 2}} ],
            "usage_in_kernelmode": {{total / 5}},
            "usage_in_usermode": {{total - total / 5}}
          },
          "system_cpu_usage": {{system}},
          "online_cpus": 2,
          "throttling_data": { "periods": {{periods}}, "throttled_periods": {{throttledPeriods}}, "throttled_time": {{throttledTime}} }
        }
        """;
}

public enum MetadataAnswer
{
    Figures,

    /// <summary>The figures, but the tool container has none yet (ECS answers null for a container not yet running).</summary>
    ToolNotStarted,
    ServerError,
    NotJson,
}

/// <summary>One container's figures as the Docker stats report them (nanoseconds of CPU, bytes).</summary>
public sealed record ContainerFigures(string Name, string DockerId)
{
    public long CpuNanoseconds { get; init; }
    public long Periods { get; init; }
    public long ThrottledPeriods { get; init; }
    public long ThrottledNanoseconds { get; init; }
    public long MemoryUsage { get; init; }
    public long InactiveFile { get; init; }
    public long MemoryLimit { get; init; }
    public long ReceiveBytes { get; init; }
    public long TransmitBytes { get; init; }
    public long ReceivePackets { get; init; }
    public long TransmitPackets { get; init; }
    public long ReadBytes { get; init; }
    public long WriteBytes { get; init; }
}
