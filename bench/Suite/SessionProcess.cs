using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace DataWorkspace.Bench.Suite;

/// <summary>How a command run by <see cref="SessionProcess"/> ended.</summary>
internal sealed record SessionResult(int? ExitCode, bool OverBudget, bool Interrupted, TimeSpan Elapsed, int Survivors, string LastLine);

/// <summary>
/// A command started in a session of its own (setsid), so that everything it starts, however deep, can be found and
/// stopped: at its budget or when the suite is interrupted the whole session gets SIGTERM, then SIGKILL after a grace
/// period. Its output is shown as it comes, each line with the elapsed time and the budget, and kept in a log.
/// </summary>
internal static class SessionProcess
{
    private const int SigTerm = 15;
    private const int SigKill = 9;
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(30);
    private static readonly Lock ConsoleGate = new();

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    public static async Task<SessionResult> RunAsync(
        string label, string file, IReadOnlyList<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string> environment,
        TimeSpan budget, bool stopWhatItLeaves, string logPath, CancellationToken interrupted)
    {
        var start = new ProcessStartInfo("setsid", [file, .. arguments])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var (name, value) in environment) start.Environment[name] = value;

        var clock = Stopwatch.StartNew();
        var lastOutput = Stopwatch.StartNew();
        var lastLine = "";
        await using var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var logGate = new Lock();
        void Show(string? line)
        {
            if (line is null) return;
            lock (logGate)
            {
                log.WriteLine(line);
                lastOutput.Restart();
                if (!string.IsNullOrWhiteSpace(line)) lastLine = line.Trim();
            }
            Say($"[{label} {Format.Duration(clock.Elapsed)}/{Format.Duration(budget)}] {line}");
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        // setsid execs in place (a child of .NET is never a group leader), so the process's id is the session's.
        var session = process.Id;
        process.StandardInput.Close();
        process.OutputDataReceived += (_, line) => Show(line.Data);
        process.ErrorDataReceived += (_, line) => Show(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        bool overBudget = false, wasInterrupted = false;
        while (!process.HasExited)
        {
            if (clock.Elapsed >= budget) overBudget = true;
            else if (interrupted.IsCancellationRequested) wasInterrupted = true;
            if (overBudget || wasInterrupted)
            {
                Say($"[{label} {Format.Duration(clock.Elapsed)}/{Format.Duration(budget)}] "
                    + (overBudget ? $"KILLED: over its budget of {Format.Duration(budget)}" : "Interrupted") + $"; SIGTERM to its session, SIGKILL after {Grace.TotalSeconds:0} s");
                await StopSessionAsync(session, process);
                break;
            }
            if (lastOutput.Elapsed >= Heartbeat)
            {
                lock (logGate) lastOutput.Restart();
                Say($"[{label} {Format.Duration(clock.Elapsed)}/{Format.Duration(budget)}] (still running, no output for {Heartbeat.TotalSeconds:0} s)");
            }
            await Task.Delay(100, CancellationToken.None);
        }
        var elapsed = clock.Elapsed;

        // What the step left running in its session (a server it did not stop, say) is stopped too, and counted.
        var survivors = stopWhatItLeaves ? await StopLeftoversAsync(session) : 0;
        if (survivors > 0) Say($"[{label}] it left {survivors} process(es) running in its session: stopped");
        // The output ends when the last process holding the pipes exits; a build server may keep them, so wait briefly.
        using (var drained = new CancellationTokenSource(TimeSpan.FromSeconds(3)))
        {
            try
            {
                await process.WaitForExitAsync(drained.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
        int? exitCode = process.HasExited ? process.ExitCode : null;
        lock (logGate) return new SessionResult(exitCode, overBudget, wasInterrupted, elapsed, survivors, lastLine);
    }

    public static void Say(string line)
    {
        lock (ConsoleGate) Console.WriteLine(line);
    }

    private static async Task StopSessionAsync(int session, Process leader)
    {
        // Taken before any signal: a process that left the session (a daemon calling setsid itself) is found as the
        // leader's descendant only while its parents live.
        var stopping = Members(session, leader.Id);
        Signal(stopping, SigTerm);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < Grace && Alive(stopping).Count > 0)
            await Task.Delay(100, CancellationToken.None);
        Signal([.. Alive(stopping).Union(Members(session, leader.Id))], SigKill);
        await leader.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private static async Task<int> StopLeftoversAsync(int session)
    {
        var left = Members(session, leader: null);
        if (left.Count == 0) return 0;
        Signal(left, SigTerm);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(5) && Alive(left).Count > 0)
            await Task.Delay(100, CancellationToken.None);
        Signal([.. Alive(left).Union(Members(session, leader: null))], SigKill);
        return left.Count;
    }

    private static void Signal(IEnumerable<Member> processes, int signal)
    {
        foreach (var process in processes) Kill(process.Pid, signal);
    }

    /// <summary>A process, told apart from a later one with the same id by its start time.</summary>
    private readonly record struct Member(int Pid, long Started);

    private readonly record struct Entry(Member Member, int Parent, int Session);

    /// <summary>The processes of the session, and the leader's descendants wherever they are.</summary>
    private static List<Member> Members(int session, int? leader)
    {
        var all = Processes();
        var found = all.Where(entry => entry.Session == session).Select(entry => entry.Member).ToHashSet();
        if (leader is { } root)
        {
            var children = all.ToLookup(entry => entry.Parent);
            var queue = new Queue<int>([root]);
            while (queue.TryDequeue(out var parent))
                foreach (var child in children[parent])
                {
                    found.Add(child.Member);
                    queue.Enqueue(child.Member.Pid);
                }
            found.UnionWith(all.Where(entry => entry.Member.Pid == root).Select(entry => entry.Member));
        }
        return [.. found];
    }

    private static List<Member> Alive(IEnumerable<Member> members)
    {
        var now = Processes().Select(entry => entry.Member).ToHashSet();
        return [.. members.Where(now.Contains)];
    }

    /// <summary>Every live process, from /proc/PID/stat (parent, session and start time: fields 4, 6 and 22).</summary>
    private static List<Entry> Processes()
    {
        var entries = new List<Entry>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                // A zombie has exited already; its parent has yet to reap it.
                if (fields[0] == "Z") continue;
                entries.Add(new Entry(new Member(pid, long.Parse(fields[19], CultureInfo.InvariantCulture)),
                    int.Parse(fields[1], CultureInfo.InvariantCulture), int.Parse(fields[3], CultureInfo.InvariantCulture)));
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return entries;
    }
}
