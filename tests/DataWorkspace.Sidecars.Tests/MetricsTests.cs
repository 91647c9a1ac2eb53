using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using DataWorkspace.TestSupport;
using static DataWorkspace.Sidecars.Tests.PrometheusText;

namespace DataWorkspace.Sidecars.Tests;

/// <summary>
/// The real <c>dataworkspace-sidecar metrics</c> executable, pointed through ECS_CONTAINER_METADATA_URI_V4 at a task
/// metadata endpoint on a loopback port, or with --pid at a real local process; scraped over HTTP as Prometheus
/// would, and its output checked with <c>promtool check metrics</c>.
/// </summary>
public sealed partial class MetricsTests
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_ecs_task_shows_the_tools_containers_cpu_memory_network_and_disk_with_task_labels_and_no_sidecars()
    {
        await using var endpoint = await StartEndpointAsync();
        await using var sidecar = await SidecarProcess.StartAsync(Ecs(endpoint));

        var text = await sidecar.ScrapeAsync("/metrics");
        var series = Parse(text);

        foreach (var container in new[] { EcsTaskMetadataEndpoint.Tool, EcsTaskMetadataEndpoint.Worker })
        {
            var labels = TaskLabels(container.Name);
            Assert.Equal(container.CpuNanoseconds / 1e9, Value(series, "container_cpu_usage_seconds_total", labels), 9);
            Assert.Equal(container.Periods, Value(series, "container_cpu_cfs_periods_total", labels));
            Assert.Equal(container.ThrottledPeriods, Value(series, "container_cpu_cfs_throttled_periods_total", labels));
            Assert.Equal(container.ThrottledNanoseconds / 1e9, Value(series, "container_cpu_cfs_throttled_seconds_total", labels), 9);
            Assert.Equal(container.MemoryUsage, Value(series, "container_memory_usage_bytes", labels));
            Assert.Equal(container.MemoryUsage - container.InactiveFile, Value(series, "container_memory_working_set_bytes", labels));
            Assert.Equal(container.MemoryLimit, Value(series, "container_spec_memory_limit_bytes", labels));
            Assert.Equal(container.ReadBytes, Value(series, "container_fs_reads_bytes_total", labels));
            Assert.Equal(container.WriteBytes, Value(series, "container_fs_writes_bytes_total", labels));
            var eth1 = labels.Append(new("interface", "eth1")).ToArray();
            Assert.Equal(container.ReceiveBytes, Value(series, "container_network_receive_bytes_total", eth1));
            Assert.Equal(container.TransmitBytes, Value(series, "container_network_transmit_bytes_total", eth1));
            Assert.Equal(container.ReceivePackets, Value(series, "container_network_receive_packets_total", eth1));
            Assert.Equal(container.TransmitPackets, Value(series, "container_network_transmit_packets_total", eth1));
        }
        var containers = series.Where(s => s.Name.StartsWith("container_", StringComparison.Ordinal)).Select(s => s.Labels["container"]).ToHashSet();
        Assert.Equal(["tool", "worker"], containers.Order());
        Assert.Equal(0, Value(series, "metrics_sidecar_scrape_errors_total"));
        Assert.Contains(sidecar.Logs, line => line.Contains("\"Containers\":\"tool, worker\"", StringComparison.Ordinal));
        await AssertPromtoolAcceptsAsync(text);
    }

    [Fact]
    public async Task The_originals_path_serves_the_same_series_as_metrics()
    {
        await using var endpoint = await StartEndpointAsync();
        await using var sidecar = await SidecarProcess.StartAsync(Ecs(endpoint));

        var metrics = await sidecar.ScrapeAsync("/metrics");
        var original = await sidecar.ScrapeAsync("/__metrics");

        // Each scrape reads the endpoint again, so only the time of that read differs.
        Assert.Equal(WithoutReadTime(metrics), WithoutReadTime(original));
        Assert.Contains("container_cpu_usage_seconds_total{", original);
    }

    [Fact]
    public async Task An_unreadable_metadata_endpoint_keeps_the_last_good_figures_and_counts_each_failure()
    {
        await using var endpoint = await StartEndpointAsync();
        await using var sidecar = await SidecarProcess.StartAsync(Ecs(endpoint));
        var tool = TaskLabels("tool");
        var good = Parse(await sidecar.ScrapeAsync("/metrics"));

        endpoint.Answer = MetadataAnswer.ServerError;
        var afterServerError = await sidecar.ScrapeAsync("/metrics");
        endpoint.Answer = MetadataAnswer.NotJson;
        var afterGarbage = await sidecar.ScrapeAsync("/metrics");
        endpoint.Answer = MetadataAnswer.Figures;
        endpoint.CurrentTool = EcsTaskMetadataEndpoint.Tool with { CpuNanoseconds = EcsTaskMetadataEndpoint.Tool.CpuNanoseconds + 2_500_000_000 };
        var recovered = Parse(await sidecar.ScrapeAsync("/metrics"));

        Assert.Equal(1, Value(Parse(afterServerError), "metrics_sidecar_scrape_errors_total"));
        Assert.Equal(2, Value(Parse(afterGarbage), "metrics_sidecar_scrape_errors_total"));
        foreach (var failed in new[] { afterServerError, afterGarbage })
        {
            var series = Parse(failed);
            Assert.Equal(Value(good, "container_cpu_usage_seconds_total", tool), Value(series, "container_cpu_usage_seconds_total", tool));
            Assert.Equal(Value(good, "container_memory_usage_bytes", tool), Value(series, "container_memory_usage_bytes", tool));
            Assert.Equal(Value(good, "metrics_sidecar_last_success_timestamp_seconds"), Value(series, "metrics_sidecar_last_success_timestamp_seconds"));
            await AssertPromtoolAcceptsAsync(failed);
        }
        Assert.Equal((EcsTaskMetadataEndpoint.Tool.CpuNanoseconds + 2_500_000_000) / 1e9, Value(recovered, "container_cpu_usage_seconds_total", tool), 9);
        Assert.Equal(2, Value(recovered, "metrics_sidecar_scrape_errors_total"));
        Assert.Contains(sidecar.Logs, line => line.Contains("\"LogLevel\":\"Warning\"", StringComparison.Ordinal) && line.Contains("answered 500", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_endpoint_that_is_not_listening_counts_as_a_failure_too()
    {
        var port = Ports.Free();
        await using var sidecar = await SidecarProcess.StartAsync(["metrics"], new() { ["ECS_CONTAINER_METADATA_URI_V4"] = $"http://127.0.0.1:{port}/v4/abc" });

        var text = await sidecar.ScrapeAsync("/metrics");

        Assert.Equal(1, Value(Parse(text), "metrics_sidecar_scrape_errors_total"));
        Assert.DoesNotContain("container_cpu_usage_seconds_total{", text);
        await AssertPromtoolAcceptsAsync(text);
    }

    [Fact]
    public async Task A_container_without_stats_yet_is_left_out_until_it_has_them()
    {
        await using var endpoint = await StartEndpointAsync();
        endpoint.Answer = MetadataAnswer.ToolNotStarted;
        await using var sidecar = await SidecarProcess.StartAsync(Ecs(endpoint));

        var starting = Parse(await sidecar.ScrapeAsync("/metrics"));
        endpoint.Answer = MetadataAnswer.Figures;
        var started = Parse(await sidecar.ScrapeAsync("/metrics"));

        Assert.Equal(["worker"], starting.Where(s => s.Name == "container_cpu_usage_seconds_total").Select(s => s.Labels["container"]));
        Assert.Equal(0, Value(starting, "metrics_sidecar_scrape_errors_total"));
        Assert.Equal(["tool", "worker"], started.Where(s => s.Name == "container_cpu_usage_seconds_total").Select(s => s.Labels["container"]).Order());
    }

    [Fact]
    public async Task The_containers_left_out_can_be_configured()
    {
        await using var endpoint = await StartEndpointAsync();
        var environment = Ecs(endpoint);
        environment["METRICS_EXCLUDE_CONTAINERS"] = "worker, metrics";
        await using var sidecar = await SidecarProcess.StartAsync(environment);

        var series = Parse(await sidecar.ScrapeAsync("/metrics"));

        var containers = series.Where(s => s.Name == "container_cpu_usage_seconds_total").Select(s => s.Labels["container"]);
        Assert.Equal(["s3sync", "tool"], containers.Order());
    }

    [Fact]
    public async Task A_local_tools_process_tree_shows_its_cpu_and_memory()
    {
        // The busy loop runs in a child of the tool's shell, so only counting descendants shows its CPU.
        using var tool = Process.Start(new ProcessStartInfo("sh", ["-c", "sh -c 'while :; do :; done' & wait"]))!;
        try
        {
            await using var sidecar = await SidecarProcess.StartAsync(["metrics", "--pid", tool.Id.ToString(CultureInfo.InvariantCulture), "--container-name", "jupyterlab"], []);
            var labels = new KeyValuePair<string, string>[] { new("container", "jupyterlab") };

            var childCpuSeconds = await BusyChildCpuSecondsAsync(tool.Id, atLeast: 0.5);
            var text = await sidecar.ScrapeAsync("/metrics");
            var series = Parse(text);

            Assert.InRange(Value(series, "container_cpu_usage_seconds_total", labels), childCpuSeconds, double.MaxValue);
            Assert.True(Value(series, "container_memory_usage_bytes", labels) > 0);
            Assert.True(Value(series, "container_spec_memory_limit_bytes", labels) > 0);
            Assert.Single(series, s => s.Name == "container_fs_reads_bytes_total");
            Assert.Equal(0, Value(series, "metrics_sidecar_scrape_errors_total"));
            await AssertPromtoolAcceptsAsync(text);
        }
        finally
        {
            KillTree(tool);
        }
    }

    [Fact]
    public async Task A_local_tools_cpu_total_keeps_the_time_of_children_that_have_exited()
    {
        // The shell runs a busy child, kills and reaps it when told, then runs another.
        const string Script = "sh -c 'while :; do :; done' & read a; kill $!; wait $!; sh -c 'while :; do :; done' & read b; kill $!; wait";
        using var tool = Process.Start(new ProcessStartInfo("sh", ["-c", Script]) { RedirectStandardInput = true })!;
        try
        {
            await using var sidecar = await SidecarProcess.StartAsync(["metrics", "--pid", tool.Id.ToString(CultureInfo.InvariantCulture)], []);
            var labels = new KeyValuePair<string, string>[] { new("container", "tool") };
            await BusyChildCpuSecondsAsync(tool.Id, atLeast: 0.3);
            var first = OnlyChild(tool.Id);
            var before = Value(Parse(await sidecar.ScrapeAsync("/metrics")), "container_cpu_usage_seconds_total", labels);

            await tool.StandardInput.WriteLineAsync("next");
            var second = await BusyChildCpuSecondsAsync(tool.Id, atLeast: 0.3, notPid: first);
            var after = Value(Parse(await sidecar.ScrapeAsync("/metrics")), "container_cpu_usage_seconds_total", labels);

            // The first child's time moved into the shell's (cutime) when it was reaped; nothing of it is lost.
            Assert.InRange(after, before + second, double.MaxValue);
        }
        finally
        {
            KillTree(tool);
        }
    }

    [Fact]
    public async Task A_local_tool_that_has_exited_keeps_its_last_figures_and_counts_errors()
    {
        using var tool = Process.Start(new ProcessStartInfo("sh", ["-c", "read line"]) { RedirectStandardInput = true })!;
        await using var sidecar = await SidecarProcess.StartAsync(["metrics", "--pid", tool.Id.ToString(CultureInfo.InvariantCulture)], []);
        var labels = new KeyValuePair<string, string>[] { new("container", "tool") };
        var running = Parse(await sidecar.ScrapeAsync("/metrics"));

        tool.StandardInput.WriteLine("stop");
        await tool.WaitForExitAsync(Cancellation);
        var exited = Parse(await sidecar.ScrapeAsync("/metrics"));

        Assert.True(Value(running, "container_memory_usage_bytes", labels) > 0);
        Assert.Equal(Value(running, "container_memory_usage_bytes", labels), Value(exited, "container_memory_usage_bytes", labels));
        Assert.Equal(1, Value(exited, "metrics_sidecar_scrape_errors_total"));
        // The log line reaches the test through the sidecar's standard output, which may come after the scrape's answer.
        var logged = Stopwatch.StartNew();
        while (!sidecar.Logs.Any(line => line.Contains($"Process {tool.Id} is not running", StringComparison.Ordinal)) && logged.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(50, Cancellation);
        Assert.Contains(sidecar.Logs, line => line.Contains($"Process {tool.Id} is not running", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Help_names_the_options_and_nothing_to_watch_is_refused_with_a_message()
    {
        var help = await SidecarProcess.RunAsync(["metrics", "--help"]);
        var nothing = await SidecarProcess.RunAsync(["metrics"]);
        var badPort = await SidecarProcess.RunAsync(["metrics", "--pid", "1", "--port", "http"]);

        Assert.Equal(0, help.ExitCode);
        foreach (var option in new[] { "--pid", "--port", "--address", "--exclude-container", "ECS_CONTAINER_METADATA_URI_V4", "/__metrics" })
            Assert.Contains(option, help.Output);
        Assert.Equal(MetricsCommand.BadSettingsExitCode, nothing.ExitCode);
        Assert.Contains("Nothing to watch", nothing.Output);
        Assert.Equal(MetricsCommand.BadSettingsExitCode, badPort.ExitCode);
        Assert.Contains("--port must be a port number from 1 to 65535; 'http' is not.", badPort.Output);
    }

    /// <summary>The CPU time of the shell's only child, read from /proc once it has used at least <paramref name="atLeast"/> seconds.</summary>
    private static async Task<double> BusyChildCpuSecondsAsync(int shellPid, double atLeast, string? notPid = null)
    {
        while (true)
        {
            var children = File.ReadAllText($"/proc/{shellPid}/task/{shellPid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (children.Length == 1 && children[0] != notPid)
            {
                var stat = File.ReadAllText($"/proc/{children[0]}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                // utime and stime, fields 14 and 15 of proc_pid_stat(5), in USER_HZ (100 a second).
                var seconds = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
                if (seconds >= atLeast)
                    return seconds;
            }
            await Task.Delay(100, Cancellation);
        }
    }

    private static string OnlyChild(int shellPid) =>
        Assert.Single(File.ReadAllText($"/proc/{shellPid}/task/{shellPid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries));

    private static async Task<EcsTaskMetadataEndpoint> StartEndpointAsync()
    {
        var endpoint = new EcsTaskMetadataEndpoint(Ports.Free());
        await endpoint.StartAsync(Cancellation);
        return endpoint;
    }

    private static Dictionary<string, string> Ecs(EcsTaskMetadataEndpoint endpoint) =>
        new() { ["ECS_CONTAINER_METADATA_URI_V4"] = endpoint.Uri.ToString() };

    private static KeyValuePair<string, string>[] TaskLabels(string container) =>
    [
        new("container", container),
        new("task_arn", EcsTaskMetadataEndpoint.TaskArn),
        new("cluster", EcsTaskMetadataEndpoint.Cluster),
        new("task_family", EcsTaskMetadataEndpoint.Family),
        new("task_revision", EcsTaskMetadataEndpoint.Revision),
    ];

    private static string WithoutReadTime(string text) =>
        string.Join('\n', text.Split('\n').Where(line => !line.StartsWith("metrics_sidecar_last_success_timestamp_seconds{", StringComparison.Ordinal)));

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already exited
        }
    }

    /// <summary>The sidecar executable as a container would run it, stopped with SIGTERM; its JSON log lines collected.</summary>
    private sealed class SidecarProcess : IAsyncDisposable
    {
        private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };
        private readonly Process process;
        private readonly ConcurrentQueue<string> logs = new();
        private readonly int port;

        private SidecarProcess(Process process, int port)
        {
            this.process = process;
            this.port = port;
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) logs.Enqueue(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) logs.Enqueue(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public IReadOnlyCollection<string> Logs => logs;

        public static Task<SidecarProcess> StartAsync(Dictionary<string, string> environment) => StartAsync(["metrics"], environment);

        public static async Task<SidecarProcess> StartAsync(string[] arguments, Dictionary<string, string> environment)
        {
            var port = Ports.Free();
            var start = StartInfo([.. arguments, "--address", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture)]);
            foreach (var (name, value) in environment)
                start.Environment[name] = value;
            var sidecar = new SidecarProcess(Process.Start(start)!, port);
            while (!sidecar.logs.Any(line => line.Contains("\"EventId\":1,", StringComparison.Ordinal)))
            {
                if (sidecar.process.HasExited)
                    Assert.Fail($"The metrics sidecar exited with {sidecar.process.ExitCode}: {string.Join('\n', sidecar.logs)}");
                await Task.Delay(50, Cancellation);
            }
            return sidecar;
        }

        public static async Task<(int ExitCode, string Output)> RunAsync(string[] arguments)
        {
            using var process = Process.Start(StartInfo(arguments))!;
            var output = process.StandardOutput.ReadToEndAsync(Cancellation);
            var error = process.StandardError.ReadToEndAsync(Cancellation);
            await process.WaitForExitAsync(Cancellation);
            return (process.ExitCode, await output + await error);
        }

        public async Task<string> ScrapeAsync(string path)
        {
            using var response = await Http.GetAsync($"http://127.0.0.1:{port}{path}", Cancellation);
            var text = await response.Content.ReadAsStringAsync(Cancellation);
            Assert.True(response.IsSuccessStatusCode, $"{path} answered {(int)response.StatusCode}: {text}");
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
            return text;
        }

        public async ValueTask DisposeAsync()
        {
            using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync(Cancellation);
            await process.WaitForExitAsync(Cancellation);
            var exitCode = process.ExitCode;
            process.Dispose();
            Assert.True(exitCode == 0, $"The metrics sidecar did not stop cleanly on SIGTERM (exit {exitCode}): {string.Join('\n', logs)}");
            Assert.Contains(logs, line => line.Contains("\"Message\":\"metrics stopped\"", StringComparison.Ordinal));
        }

        private static ProcessStartInfo StartInfo(string[] arguments)
        {
            var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "dataworkspace-sidecar.dll"), .. arguments])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            // The sidecar must find its source only where a test says.
            foreach (var name in new[] { "ECS_CONTAINER_METADATA_URI_V4", "METRICS_PID", "METRICS_PORT", "METRICS_ADDRESS", "METRICS_EXCLUDE_CONTAINERS", "METRICS_CONTAINER_NAME" })
                start.Environment.Remove(name);
            return start;
        }
    }
}
