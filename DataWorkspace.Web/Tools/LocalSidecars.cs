using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// The sidecars beside each local tool, as processes of this machine running the sidecars build
/// (<c>Tools:LocalSidecars</c>, the path of <c>dataworkspace-sidecar.dll</c>): <c>metrics</c> watches the tool's
/// process tree on a free loopback port, and <c>s3sync</c> keeps the tool's home folder in step with the user's home
/// prefix, with the tool's own S3 settings and renewing credentials. They stop with the tool (s3sync first sends what
/// is not sent yet) and with the web app; the process ids are also kept in
/// <c>&lt;LocalWorkDirectory&gt;/.sidecars</c>, so a run after a crash ends those its predecessor left behind. A
/// sidecar that cannot start is logged and the tool runs without it.
/// </summary>
public sealed class LocalSidecars(IOptions<ToolsOptions> options, ILogger<LocalSidecars> logger) : IDisposable
{
    private const int OutputLinesKept = 20;
    private const int SignalTerminate = 15;
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<Guid, ToolSidecars> running = new();

    /// <summary>The loopback address of the instance's metrics sidecar, which Prometheus scrapes; null when it has none.</summary>
    public string? MetricsTarget(Guid instanceId) =>
        running.TryGetValue(instanceId, out var sidecars) && sidecars.MetricsPort is { } port ? $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}" : null;

    /// <summary>Starts the sidecars of a tool whose process has just started; a failure is logged, never thrown.</summary>
    /// <param name="toolEnvironment">The tool's environment, whose S3 and AWS settings s3sync uses; without S3_BUCKET and S3_PREFIX there is no s3sync.</param>
    public void StartFor(Guid instanceId, string host, int toolPid, string home, IReadOnlyDictionary<string, string> toolEnvironment)
    {
        var build = Build();
        if (build is null) return;
        var sidecars = new ToolSidecars();
        running[instanceId] = sidecars;
        if (toolEnvironment.ContainsKey("S3_BUCKET") && toolEnvironment.ContainsKey("S3_PREFIX"))
        {
            var storage = toolEnvironment.Where(e => e.Key.StartsWith("S3_", StringComparison.Ordinal) || e.Key.StartsWith("AWS_", StringComparison.Ordinal));
            if (Start(build, "s3sync", host, home, ["s3sync", "--local", home], storage) is { } sync) sidecars.Processes.Add(sync);
        }

        var port = FreePort();
        if (Start(build, "metrics", host, home, ["metrics", "--pid", toolPid.ToString(CultureInfo.InvariantCulture), "--address", "127.0.0.1",
                "--port", port.ToString(CultureInfo.InvariantCulture), "--container-name", Ecs.EcsLauncher.ToolContainer], []) is { } metrics)
        {
            sidecars.Processes.Add(metrics);
            sidecars.MetricsPort = port;
        }

        Remember(instanceId, sidecars);
    }

    /// <summary>Stops the instance's sidecars (if it has any) and forgets them.</summary>
    public async Task StopForAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        if (!running.TryRemove(instanceId, out var sidecars)) return;
        foreach (var process in sidecars.Processes) await StopAsync(process, cancellationToken);
        File.Delete(PidFile(instanceId));
    }

    /// <summary>Ends the sidecars a previous run of the web app left running (it crashed, or was killed): their tools are not this run's.</summary>
    public void StopOrphans()
    {
        var directory = PidDirectory();
        if (!Directory.Exists(directory)) return;
        foreach (var file in Directory.GetFiles(directory))
        {
            if (Guid.TryParseExact(Path.GetFileName(file), "N", out var id) && running.ContainsKey(id)) continue;
            foreach (var line in File.ReadAllLines(file))
            {
                if (!int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || !IsSidecar(pid)) continue;
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill(entireProcessTree: true);
                    logger.LogInformation("Stopped sidecar process {Pid}, left running by the previous run of the platform", pid);
                }
                catch (Exception exception) when (exception is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // It ended meanwhile, or is not ours to end.
                }
            }

            File.Delete(file);
        }
    }

    public void Dispose() => Task.WhenAll(running.Keys.Select(id => StopForAsync(id, CancellationToken.None))).GetAwaiter().GetResult();

    private string? Build()
    {
        var build = options.Value.LocalSidecars;
        if (string.IsNullOrWhiteSpace(build)) return null;
        if (File.Exists(build)) return build;
        logger.LogWarning("Tools run without sidecars: Tools:LocalSidecars is {Path}, which does not exist (build DataWorkspace.Sidecars)", build);
        return null;
    }

    private Sidecar? Start(string build, string command, string host, string home, IReadOnlyList<string> arguments, IEnumerable<KeyValuePair<string, string>> environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(build);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        // Only what the sidecar is given: none of the web app's own settings and secrets. Its HOME is the tool's, so the
        // AWS SDK finds no credentials of this machine's user in ~/.aws, only the tool's.
        start.Environment.Clear();
        foreach (var name in new[] { "PATH", "LANG", "TZ", "DOTNET_ROOT", "TMPDIR" })
            if (Environment.GetEnvironmentVariable(name) is { } value) start.Environment[name] = value;
        foreach (var (name, value) in environment) start.Environment[name] = value;
        start.Environment["HOME"] = home;
        // Its counters and logs go where the web app's go (the Aspire dashboard locally), under a name per tool.
        if (Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT") is { Length: > 0 })
        {
            foreach (var name in new[] { "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS" })
                if (Environment.GetEnvironmentVariable(name) is { } value) start.Environment[name] = value;
            start.Environment["OTEL_SERVICE_NAME"] = $"{command}-{host}";
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var sidecar = new Sidecar(process);
        var output = new ConcurrentQueue<string>();
        void Keep(string? line)
        {
            if (line is null) return;
            output.Enqueue(line);
            while (output.Count > OutputLinesKept) output.TryDequeue(out _);
        }

        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.Exited += (_, _) =>
        {
            if (sidecar.Stopping) return;
            logger.LogWarning("The {Sidecar} sidecar of {Host} exited with code {Code}: {Output}", command, host, process.ExitCode, string.Join('\n', output));
        };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            process.Dispose();
            logger.LogWarning("The {Sidecar} sidecar of {Host} could not be started: {Problem}", command, host, exception.Message);
            return null;
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        logger.LogInformation("Started the {Sidecar} sidecar of {Host} as process {Pid}", command, host, process.Id);
        return sidecar;
    }

    private static async Task StopAsync(Sidecar sidecar, CancellationToken cancellationToken)
    {
        var process = sidecar.Process;
        try
        {
            sidecar.Stopping = true;
            // SIGTERM first: s3sync then finishes its transfers and sends the changes not yet sent before it exits.
            if (!process.HasExited && Terminate(process.Id, SignalTerminate) == 0)
            {
                using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                grace.CancelAfter(StopGrace);
                try
                {
                    await process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // It took too long: killed below.
                }
            }

            if (!process.HasExited) process.Kill(entireProcessTree: true);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(TimeSpan.FromSeconds(5));
            await process.WaitForExitAsync(wait.Token);
        }
        catch (Exception exception) when (exception is InvalidOperationException or OperationCanceledException)
        {
            // It exited meanwhile, or would not die in time: nothing more a stop can do.
        }
        finally
        {
            process.Dispose();
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Terminate(int pid, int signal);

    private void Remember(Guid instanceId, ToolSidecars sidecars)
    {
        if (sidecars.Processes.Count == 0) return;
        try
        {
            Directory.CreateDirectory(PidDirectory());
            File.WriteAllLines(PidFile(instanceId), sidecars.Processes.Select(p => p.Process.Id.ToString(CultureInfo.InvariantCulture)));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("The sidecars' process ids could not be kept in {Directory} ({Problem}): after a crash they would have to be ended by hand", PidDirectory(), exception.Message);
        }
    }

    private static bool IsSidecar(int pid)
    {
        // A process id may have been reused since: only a process running the sidecars build is ended.
        var commandLine = Path.Combine("/proc", pid.ToString(CultureInfo.InvariantCulture), "cmdline");
        try
        {
            return File.Exists(commandLine) && File.ReadAllText(commandLine).Contains("dataworkspace-sidecar", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private string PidDirectory() => Path.Combine(options.Value.LocalWorkDirectory, ".sidecars");

    private string PidFile(Guid instanceId) => Path.Combine(PidDirectory(), instanceId.ToString("N"));

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class ToolSidecars
    {
        public List<Sidecar> Processes { get; } = [];

        public int? MetricsPort { get; set; }
    }

    private sealed class Sidecar(Process process)
    {
        public Process Process { get; } = process;

        // Stopped here, so its exit is not a failure to report.
        public bool Stopping { get; set; }
    }
}
