using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using DataWorkspace.Contracts;
using DataWorkspace.Web.Time;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// Runs a template's command as a process of this machine, on a free loopback port given as PORT (and as
/// <c>{port}</c> in its arguments), with a working directory of its own per tool host as HOME (<c>{home}</c>).
/// <c>{origin}</c> is the tool's public origin (<c>http://jupyter-1a2b3c4d.dataworkspace.localhost:8000</c>), for
/// tools that check the Origin of the browser's requests against their own address (the proxy asks them for 127.0.0.1).
/// For development and tests: a local tool is as isolated as the machine's user accounts make it.
/// </summary>
public sealed class LocalLauncher(
    IOptions<ToolsOptions> options, LocalToolServices services, LocalSidecars sidecars, [FromKeyedServices(Clock.Real)] TimeProvider time, ILoggerFactory loggers, ILogger<LocalLauncher> logger) : ILauncher, IDisposable
{
    /// <summary>The log category of what local tools write to their stdout and stderr.</summary>
    public const string OutputCategory = "DataWorkspace.Web.Tools.LocalToolOutput";
    private readonly ILogger outputLogger = loggers.CreateLogger(OutputCategory);
    private readonly ConcurrentDictionary<Guid, RunningProcess> processes = new();

    public string Name => "Local";

    public string? Unavailable(ToolTemplate template)
    {
        if (template.Command.Count == 0)
            return $"{template.Name} runs only on the deployed platform: it is a container image, and this platform launches tools as local processes.";
        return Executable(template.Command[0]) is null
            ? $"{template.Name} needs '{template.Command[0]}', which is not installed on this machine{(template.Command[0] == "jupyter-notebook" ? " (on Debian: apt-get install jupyter-notebook)" : "")}."
            : null;
    }

    public Task<LaunchedTool> StartAsync(LaunchRequest request, IProgress<ToolStage> stage, CancellationToken cancellationToken)
    {
        var template = request.Template;
        var executable = Executable(template.Command[0])
            ?? throw new LaunchException(Unavailable(template) ?? $"'{template.Command[0]}' was not found.");
        stage.Report(ToolStage.Starting);
        var port = FreePort();
        var home = Path.Combine(options.Value.LocalWorkDirectory, request.Host);
        Directory.CreateDirectory(home);
        var origin = request.Url.GetLeftPart(UriPartial.Authority);
        string Fill(string text) => text.Replace("{port}", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{home}", home, StringComparison.Ordinal).Replace("{origin}", origin, StringComparison.Ordinal);

        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = home,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in template.Command.Skip(1)) start.ArgumentList.Add(Fill(argument));
        // Only what the tool is given: none of the web app's own settings and secrets leak into it.
        start.Environment.Clear();
        foreach (var name in new[] { "PATH", "LANG", "TZ", "DOTNET_ROOT", "TMPDIR" })
            if (System.Environment.GetEnvironmentVariable(name) is { } value) start.Environment[name] = value;
        foreach (var (name, value) in template.Environment) start.Environment[name] = Fill(value);
        foreach (var (name, value) in request.Environment) start.Environment[name] = value;
        start.Environment["HOME"] = home;
        start.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var output = new LocalToolOutput(outputLogger, time, template.Name, request.Host,
            template.Kind == ToolKind.Tool ? UserHash.Of(request.UserId) : null, request.InstanceId);
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            process.Dispose();
            throw new LaunchException($"{template.Name} could not be started: {exception.Message}.");
        }

        var reading = Task.WhenAll(
            Task.Run(() => output.ReadAsync(process.StandardOutput.BaseStream, "stdout")),
            Task.Run(() => output.ReadAsync(process.StandardError.BaseStream, "stderr")));
        processes[request.InstanceId] = new RunningProcess(process, output, reading);
        logger.LogInformation("Started {Tool} for {Host} as process {Pid} on port {Port}", template.Name, request.Host, process.Id, port);
        sidecars.StartFor(request.InstanceId, request.Host, process.Id, home, request.Environment);
        return Task.FromResult(new LaunchedTool(process.Id.ToString(CultureInfo.InvariantCulture), $"http://127.0.0.1:{port}"));
    }

    public Task<string?> AddressAsync(ToolInstance instance, CancellationToken cancellationToken) => Task.FromResult(instance.Address);

    /// <summary>The web app's own loopback endpoint, as a container's SDK finds ECS's: local tools are processes of the web app.</summary>
    public IReadOnlyDictionary<string, string>? RenewingCredentials(Guid instanceId) => services.EnvironmentFor(instanceId);

    public async Task<(bool Alive, string? Reason)> AliveAsync(ToolInstance instance, CancellationToken cancellationToken)
    {
        if (!processes.TryGetValue(instance.Id, out var running))
            return (false, "it is no longer running on this machine (the platform was restarted)");
        if (!running.Process.HasExited) return (true, null);
        // Its last words may still be in the pipes.
        await Task.WhenAny(running.Reading, Task.Delay(TimeSpan.FromSeconds(1), cancellationToken));
        var output = string.Join('\n', running.Output.LastLines(5));
        return (false, $"the tool's process exited with code {running.Process.ExitCode}" + (output.Length > 0 ? $": {output}" : ""));
    }

    public Task StopAsync(ToolInstance instance, CancellationToken cancellationToken) => StopAsync(instance.Id, cancellationToken);

    private async Task StopAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        if (processes.TryRemove(instanceId, out var running)) await StopAsync(running.Process, cancellationToken);
        // After the tool and before its credentials end: s3sync sends the tool's last changes with them.
        await sidecars.StopForAsync(instanceId, cancellationToken);
        services.Forget(instanceId);
    }

    /// <summary>
    /// The platform stopping takes its local tools and their sidecars with it (they would be unreachable orphans
    /// otherwise), while the services the sidecars call back to still run, so s3sync can send the tools' last changes.
    /// </summary>
    public async Task StopAllAsync(CancellationToken cancellationToken) =>
        await Task.WhenAll(processes.Keys.Select(id => StopAsync(id, cancellationToken)));

    /// <summary>What <see cref="StopAllAsync"/> did not get to.</summary>
    public void Dispose()
    {
        foreach (var id in processes.Keys)
            if (processes.TryRemove(id, out var running))
                StopAsync(running.Process, CancellationToken.None).GetAwaiter().GetResult();
    }

    private static async Task StopAsync(Process process, CancellationToken cancellationToken)
    {
        try
        {
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

    private static string? Executable(string command)
    {
        if (Path.IsPathRooted(command)) return File.Exists(command) ? command : null;
        return (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, command))
            .FirstOrDefault(File.Exists);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed record RunningProcess(Process Process, LocalToolOutput Output, Task Reading);
}

/// <summary>A launch that cannot happen, with the reason in words for the user.</summary>
public sealed class LaunchException(string message) : Exception(message);
