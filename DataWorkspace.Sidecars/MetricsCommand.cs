using System.CommandLine;
using System.Net.Sockets;
using DataWorkspace.Sidecars.Metrics;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Hosting;

namespace DataWorkspace.Sidecars;

/// <summary><c>metrics [--pid N] [--port 8889]</c>: the tool's CPU, memory, network and disk figures for Prometheus, served until stopped.</summary>
public static class MetricsCommand
{
    public const int BadSettingsExitCode = SidecarHosting.BadSettingsExitCode;
    public const int CannotListenExitCode = SidecarHosting.CannotStartExitCode;

    private const string Description = """
        Serves the tool's resource use in the Prometheus text format at /metrics (and /__metrics, the original's path).
        Each scrape reads the figures afresh; when they cannot be read, the last good figures are served and
        metrics_sidecar_scrape_errors_total rises.

        On ECS the figures come from the task metadata endpoint v4 (ECS_CONTAINER_METADATA_URI_V4, /task and
        /task/stats) for every container of the task but the sidecars, labelled with container, task_arn, cluster,
        task_family and task_revision: container_cpu_usage_seconds_total, container_cpu_cfs_periods_total,
        container_cpu_cfs_throttled_periods_total, container_cpu_cfs_throttled_seconds_total,
        container_memory_usage_bytes, container_memory_working_set_bytes, container_spec_memory_limit_bytes,
        container_network_receive/transmit_bytes_total and _packets_total (by interface; the containers of an awsvpc task
        share its network, so each shows the task's traffic), container_fs_reads_bytes_total and
        container_fs_writes_bytes_total.

        Locally (--pid), the same CPU, memory and disk series describe the process and all its descendants, from /proc,
        labelled container=<--container-name>; a local process has no CPU limit or network of its own, so those are absent.

        Logs are JSON lines on standard output. Every option can instead come from the environment: METRICS_PORT,
        METRICS_ADDRESS, ECS_CONTAINER_METADATA_URI_V4, METRICS_PID, METRICS_CONTAINER_NAME, METRICS_EXCLUDE_CONTAINERS
        (comma-separated).

        Examples:
          dataworkspace-sidecar metrics                       (in an ECS task: port 8889, all addresses)
          dataworkspace-sidecar metrics --pid 4242 --address 127.0.0.1 --port 9101
          curl http://127.0.0.1:9101/metrics
        """;

    public static Command Create()
    {
        var port = new Option<string?>("--port")
        {
            Description = $"The HTTP port to serve on [env METRICS_PORT; default {MetricsSettings.DefaultPort}]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("METRICS_PORT"),
        };
        var address = new Option<string?>("--address")
        {
            Description = "The IP address to serve on [env METRICS_ADDRESS; default 0.0.0.0, so Prometheus can reach the task]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("METRICS_ADDRESS"),
        };
        var metadataUri = new Option<string?>("--metadata-uri")
        {
            Description = "The ECS task metadata endpoint v4 [env ECS_CONTAINER_METADATA_URI_V4, which ECS sets]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("ECS_CONTAINER_METADATA_URI_V4"),
        };
        var pid = new Option<string?>("--pid")
        {
            Description = "Watch this local process and its descendants instead of an ECS task [env METRICS_PID]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("METRICS_PID"),
        };
        var containerName = new Option<string>("--container-name")
        {
            Description = "The container label of a local process's series [env METRICS_CONTAINER_NAME]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("METRICS_CONTAINER_NAME") is { Length: > 0 } value ? value : "tool",
        };
        var exclude = new Option<string[]>("--exclude-container")
        {
            Description = $"A container of the task to leave out; repeat for more; replaces the default {string.Join(",", MetricsSettings.DefaultExcludedContainers)} [env METRICS_EXCLUDE_CONTAINERS]",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var sourceTimeout = new Option<int>("--source-timeout-ms")
        {
            Description = "How long to wait for the task metadata endpoint before serving the last figures",
            DefaultValueFactory = _ => 5000,
        };
        var command = new Command("metrics", Description) { port, address, metadataUri, pid, containerName, exclude, sourceTimeout };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var excluded = parseResult.GetValue(exclude) is { Length: > 0 } given
                ? given
                : Environment.GetEnvironmentVariable("METRICS_EXCLUDE_CONTAINERS") is { } fromEnvironment
                    ? [fromEnvironment]
                    : MetricsSettings.DefaultExcludedContainers;
            var settings = MetricsSettings.Create(
                parseResult.GetValue(address),
                parseResult.GetValue(port),
                parseResult.GetValue(metadataUri),
                parseResult.GetValue(pid),
                parseResult.GetValue(containerName),
                excluded,
                parseResult.GetValue(sourceTimeout),
                out var problems);
            if (settings is null) return SidecarHosting.BadSettings(problems, "metrics");

            await using var host = MetricsHost.Build(settings);
            return await SidecarHosting.RunAsync(host, $"metrics cannot listen on {settings.Address}:{settings.Port}", cancellationToken);
        });
        return command;
    }
}
