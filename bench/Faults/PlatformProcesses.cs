using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using DataWorkspace.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Bench.Faults;

/// <summary>
/// The platform's resources as the faults touch them: a signal to a process traced to the resource from the process id
/// the orchestrator reports (never a process found by name), and the orchestrator's own start command to bring it back.
/// Not the orchestrator's stop or restart: under load it gives up on a shutdown that takes longer than its own wait
/// (bench/README.md, "Faults during load").
/// </summary>
internal sealed partial class PlatformProcesses(RunningPlatform platform, Action<string> log)
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;
    private const int SigCont = 18;
    private const int SigStop = 19;
    private const int Esrch = 3;

    /// <summary>How long a start through the orchestrator may take before it counts as failed (a start under load is slower).</summary>
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);

    /// <summary>How long the orchestrator may take to report a process that ended as ended.</summary>
    private static readonly TimeSpan NoticeLimit = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Starts a resource whose process has ended, through the orchestrator's start command; a start that fails is said
    /// (with the command's message and the resource's state) and tried once more.
    /// </summary>
    public async Task StartAsync(string resource, CancellationToken ct)
    {
        var commands = platform.App.Services.GetRequiredService<ResourceCommandService>();
        for (var attempt = 1; ; attempt++)
        {
            var clock = Stopwatch.StartNew();
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(StartLimit);
            var result = await commands.ExecuteCommandAsync(resource, KnownResourceCommands.StartCommand, limit.Token);
            if (result.Success) return;
            var why = result.Canceled ? $"not done within {StartLimit.TotalSeconds:0} s" : $"failed: {(string.IsNullOrEmpty(result.Message) ? "(no message)" : result.Message)}";
            log($"faults: the orchestrator's start of {resource} {why} after {clock.Elapsed.TotalSeconds:0.0} s (state {platform.StateOf(resource)}, attempt {attempt} of 2)");
            ct.ThrowIfCancellationRequested();
            if (attempt == 2) throw new InvalidOperationException($"the orchestrator's start of {resource} {why} (state {platform.StateOf(resource)})");
            await Task.Delay(TimeSpan.FromSeconds(2), ct);
        }
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to <paramref name="pid"/> (a process of <paramref name="resource"/>), waits up to
    /// <paramref name="grace"/> for it to end (then SIGKILL to it and what it started, as ECS does when a task outlasts
    /// its stop timeout), then for the orchestrator to report the resource ended. Returns when the process ended.
    /// </summary>
    public async Task<DateTimeOffset> StopAsync(string resource, int pid, int signal, TimeSpan grace, CancellationToken ct)
    {
        var sent = DateTimeOffset.UtcNow;
        Signal(pid, signal);
        if (!await UntilAsync(() => HasEnded(pid), grace, ct))
        {
            log($"faults: {resource}'s process {pid} had not ended {grace.TotalSeconds:0} s after signal {signal}; SIGKILL to it and what it started");
            KillTree(pid, endedIsFine: true);
            if (!await UntilAsync(() => HasEnded(pid), TimeSpan.FromSeconds(10), ct))
                throw new InvalidOperationException($"{resource}'s process {pid} did not end even after SIGKILL");
        }

        var ended = DateTimeOffset.UtcNow;
        if (!await UntilAsync(() => HasStopped(resource), NoticeLimit, ct))
            throw new InvalidOperationException($"{resource}'s process {pid} ended {(ended - sent).TotalSeconds:0.0} s after signal {signal}, but the orchestrator still reported it {platform.StateOf(resource)} {NoticeLimit.TotalSeconds:0} s later");
        log($"faults: {resource}'s process {pid} ended {(ended - sent).TotalSeconds:0.0} s after signal {signal}; the orchestrator reported it {platform.StateOf(resource)} {(DateTimeOffset.UtcNow - ended).TotalSeconds:0.0} s later");
        return ended;
    }

    /// <summary>Whether the orchestrator reports the resource's process as ended.</summary>
    public bool HasStopped(string resource) => KnownResourceStates.TerminalStates.Contains(platform.StateOf(resource));

    /// <summary>The process id the orchestrator reports for a resource (for a project, its <c>dotnet run</c>).</summary>
    public int ReportedProcessId(string resource) => platform.ReportedProcessId(resource)
        ?? throw new InvalidOperationException($"{resource} reports no process id (state {platform.StateOf(resource)})");

    /// <summary>The resource's own process (for a project, the app under its <c>dotnet run</c>).</summary>
    public int ProcessId(string resource) => platform.ProcessId(resource);

    /// <summary>
    /// The PostgreSQL server's process (the postmaster), from its data directory's postmaster.pid, checked to be one the
    /// <c>postgres</c> resource started: the orchestrator reports the script that runs the server.
    /// </summary>
    public int PostmasterProcessId()
    {
        var pidFile = Path.Combine(platform.DataDirectory, "postgres", "postmaster.pid");
        var pid = int.Parse(File.ReadLines(pidFile).First().Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
        var resource = ReportedProcessId("postgres");
        if (!IsDescendant(pid, resource))
            throw new InvalidOperationException($"{pidFile} names process {pid}, which is not under the postgres resource's process {resource}");
        return pid;
    }

    private static bool IsDescendant(int pid, int ancestor)
    {
        for (var current = pid; current > 1; current = ParentOf(current))
            if (current == ancestor) return true;
        return false;
    }

    /// <summary>Whether the process has ended: gone, or a zombie its parent has not yet reaped.</summary>
    private static bool HasEnded(int pid)
    {
        var stat = Read($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        return stat.Length == 0 || stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
    }

    private static int ParentOf(int pid)
    {
        var stat = Read($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        // The fields after the command name, which is in parentheses and may hold spaces: the parent is the second.
        return stat.Length == 0 ? 0 : int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
    }

    private static async Task<bool> UntilAsync(Func<bool> condition, TimeSpan limit, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + limit;
        while (!condition())
        {
            if (DateTimeOffset.UtcNow >= deadline) return false;
            await Task.Delay(100, ct);
        }

        return true;
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return "";
        }
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
    public static void KillTree(int pid, bool endedIsFine = false)
    {
        foreach (var child in ResourceProcesses.Children(pid)) KillTree(child, endedIsFine: true);
        Signal(pid, SigKill, endedIsFine);
    }

    /// <summary>SIGSTOP: the process holds everything it has but answers nothing (its connections wait in the kernel's queue).</summary>
    public static void Pause(int pid) => Signal(pid, SigStop);

    public static void Resume(int pid) => Signal(pid, SigCont);

    /// <param name="endedIsFine">A process that has ended meanwhile (ESRCH) is what the signal was for.</param>
    public static void Signal(int pid, int signal, bool endedIsFine = false)
    {
        if (SendSignal(pid, signal) != 0 && !(endedIsFine && Marshal.GetLastPInvokeError() == Esrch))
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
