using System.Globalization;
using System.Runtime.InteropServices;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using DataWorkspace.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Bench.Faults;

/// <summary>
/// The platform's resources as the faults touch them: the orchestrator's own stop/start/restart commands, or a signal
/// to the one process a resource's state names (never a process found by name).
/// </summary>
internal sealed partial class PlatformProcesses(RunningPlatform platform)
{
    private const int SigKill = 9;
    private const int SigCont = 18;
    private const int SigStop = 19;

    public async Task CommandAsync(string resource, string command, CancellationToken ct)
    {
        var commands = platform.App.Services.GetRequiredService<ResourceCommandService>();
        var result = await commands.ExecuteCommandAsync(resource, command, ct);
        if (!result.Success)
            throw new InvalidOperationException($"{command} on {resource} failed: {result.Message}");
    }

    /// <summary>
    /// Restarts the resource with the orchestrator's command. Under load, the resource's own shutdown (PostgreSQL's
    /// fast shutdown and checkpoint, the web app's draining of requests in flight) can outlast the orchestrator's wait for
    /// the stop, and the command fails while the shutdown goes on: then it waits for the process to end and starts it.
    /// </summary>
    public async Task RestartAsync(string resource, Action<string> log, CancellationToken ct)
    {
        var commands = platform.App.Services.GetRequiredService<ResourceCommandService>();
        var restart = await commands.ExecuteCommandAsync(resource, KnownResourceCommands.RestartCommand, ct);
        if (restart.Success) return;
        log($"faults: the orchestrator's restart of {resource} failed ({restart.Message}); waiting for it to stop, then starting it");
        var deadline = DateTimeOffset.UtcNow.AddSeconds(90);
        while (!HasStopped(resource) && DateTimeOffset.UtcNow < deadline) await Task.Delay(250, ct);
        await CommandAsync(resource, KnownResourceCommands.StartCommand, ct);
    }

    /// <summary>Whether the orchestrator reports the resource's process as ended (after a stop).</summary>
    public bool HasStopped(string resource) =>
        platform.App.ResourceNotifications.TryGetCurrentState(resource, out var state)
        && KnownResourceStates.TerminalStates.Contains(state.Snapshot.State?.Text);

    /// <summary>The process id the orchestrator reports for a running resource.</summary>
    public int ProcessId(string resource)
    {
        if (!platform.App.ResourceNotifications.TryGetCurrentState(resource, out var state))
            throw new InvalidOperationException($"{resource} has no state");
        var pid = state.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value;
        return pid switch
        {
            int id => id,
            long id => (int)id,
            string text when int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) => id,
            _ => throw new InvalidOperationException($"{resource} reports no process id (state {state.Snapshot.State?.Text})"),
        };
    }

    /// <summary>What a process runs (its /proc cmdline), for the report.</summary>
    public static string CommandLine(int pid)
    {
        var text = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline").Replace('\0', ' ').Trim();
        return text.Length > 120 ? text[..120] + "..." : text;
    }

    public static void Kill(int pid) => Signal(pid, SigKill);

    /// <summary>
    /// SIGKILL to a process and everything under it, deepest first: a project resource's process is <c>dotnet run</c>,
    /// and the app it runs is its child, which would live on (still holding its port) if only the parent died.
    /// </summary>
    public static void KillTree(int pid)
    {
        foreach (var child in ChildrenOf(pid)) KillTree(child);
        Kill(pid);
    }

    private static List<int> ChildrenOf(int pid)
    {
        var children = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var candidate)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                // The fields after the command name, which is in parentheses and may hold spaces: the parent is the second.
                var parent = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1];
                if (parent == pid.ToString(CultureInfo.InvariantCulture)) children.Add(candidate);
            }
            catch (IOException)
            {
            }
        }

        return children;
    }

    /// <summary>SIGSTOP: the process holds everything it has but answers nothing (its connections wait in the kernel's queue).</summary>
    public static void Pause(int pid) => Signal(pid, SigStop);

    public static void Resume(int pid) => Signal(pid, SigCont);

    private static void Signal(int pid, int signal)
    {
        if (SendSignal(pid, signal) != 0)
            throw new InvalidOperationException($"signal {signal} to process {pid} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>A resource's state and its last log lines, for a fault it did not recover from.</summary>
    public async Task<string> DescribeAsync(string resource)
    {
        var state = platform.App.ResourceNotifications.TryGetCurrentState(resource, out var current)
            ? $"{current.Snapshot.State?.Text}{(current.Snapshot.ExitCode is { } code ? $", exit code {code}" : "")}"
            : "(no state)";
        var lines = new List<string>();
        using var enough = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await foreach (var batch in platform.App.Services.GetRequiredService<ResourceLoggerService>().GetAllAsync(resource).WithCancellation(enough.Token))
                lines.AddRange(batch.Select(line => line.Content));
        }
        catch (OperationCanceledException)
        {
        }

        return $"{resource}: {state}\n  " + string.Join("\n  ", lines.TakeLast(15));
    }

    public Task WaitHealthyAsync(string resource, CancellationToken ct) => platform.App.ResourceNotifications.WaitForResourceHealthyAsync(resource, ct);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
