using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace DataWorkspace.Bench;

/// <summary>What /proc says about one process: its children, CPU time, memory and threads (Linux only).</summary>
public static class ProcessFacts
{
    /// <summary>The process and every descendant it started, found by parent id (so a wrapper's child is included).</summary>
    public static IReadOnlyList<int> Tree(int root)
    {
        var parents = AllPids().Select(pid => (Pid: pid, Parent: ParentOf(pid))).Where(p => p.Parent > 0).ToList();
        var tree = new List<int> { root };
        for (var i = 0; i < tree.Count; i++)
            tree.AddRange(parents.Where(p => p.Parent == tree[i]).Select(p => p.Pid));
        return tree.Where(pid => Directory.Exists($"/proc/{pid}")).ToList();
    }

    public static IEnumerable<int> AllPids() => Directory.EnumerateDirectories("/proc")
        .Select(dir => int.TryParse(Path.GetFileName(dir), out var pid) ? pid : 0)
        .Where(pid => pid > 0);

    public static int ParentOf(int pid)
    {
        var fields = StatFields(Read($"/proc/{pid}/stat"));
        return fields.Length > 1 ? int.Parse(fields[1], CultureInfo.InvariantCulture) : 0;
    }

    public static string[] CommandLine(int pid) => Read($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The process's environment as it started (what its parent gave it).</summary>
    public static Dictionary<string, string> Environment(int pid) => Read($"/proc/{pid}/environ")
        .Split('\0', StringSplitOptions.RemoveEmptyEntries)
        .Where(entry => entry.Contains('=', StringComparison.Ordinal))
        .GroupBy(entry => entry[..entry.IndexOf('=', StringComparison.Ordinal)])
        .ToDictionary(g => g.Key, g => g.Last()[(g.Key.Length + 1)..]);

    /// <summary>User and system CPU seconds of the process (all its threads).</summary>
    public static double CpuSeconds(int pid) => StatCpuSeconds(Read($"/proc/{pid}/stat"));

    public static double CpuSeconds(IEnumerable<int> pids) => pids.Sum(CpuSeconds);

    /// <summary>CPU seconds of the process's threads with this name (e.g. ".NET Tiered Com", the JIT's background compiler).</summary>
    public static double ThreadCpuSeconds(int pid, string threadName)
    {
        var tasks = $"/proc/{pid}/task";
        if (!Directory.Exists(tasks)) return 0;
        return Directory.EnumerateDirectories(tasks).Select(task => Read(Path.Combine(task, "stat")))
            .Where(stat => stat.Contains($"({threadName})", StringComparison.Ordinal)).Sum(StatCpuSeconds);
    }

    /// <summary>Every core's busy time since boot, in seconds (/proc/stat counts USER_HZ, 100 a second): idle and iowait left out.</summary>
    public static double MachineBusySeconds()
    {
        var ticks = MachineTicks();
        return (ticks.Sum() - ticks[3] - ticks[4]) / 100.0;
    }

    /// <summary>Time the hypervisor took from this machine's cores since boot, in seconds (/proc/stat's steal).</summary>
    public static double StolenSeconds() => MachineTicks()[7] / 100.0;

    private static long[] MachineTicks() => Read("/proc/stat").Split('\n')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
        .Select(field => long.Parse(field, CultureInfo.InvariantCulture)).ToArray();

    /// <summary>Context switches (voluntary and not) of all the process's threads so far.</summary>
    public static long ContextSwitches(int pid)
    {
        var tasks = $"/proc/{pid}/task";
        if (!Directory.Exists(tasks)) return 0;
        return Directory.EnumerateDirectories(tasks).SelectMany(task => Read(Path.Combine(task, "status")).Split('\n'))
            .Where(line => line.Contains("ctxt_switches:", StringComparison.Ordinal))
            .Sum(line => long.TryParse(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim(), CultureInfo.InvariantCulture, out var count) ? count : 0);
    }

    public static long ContextSwitches(IEnumerable<int> pids) => pids.Sum(ContextSwitches);

    public static double RssMb(int pid) =>
        Read($"/proc/{pid}/status").Split('\n').FirstOrDefault(line => line.StartsWith("VmRSS:", StringComparison.Ordinal)) is { } line
            ? double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024 : 0;

    /// <summary>The cores the process may run on, as a list ("0-1", "1").</summary>
    public static string AllowedCores(int pid) =>
        Read($"/proc/{pid}/status").Split('\n').FirstOrDefault(line => line.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)) is { } line
            ? line["Cpus_allowed_list:".Length..].Trim() : "";

    public static string Read(string path)
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

    // utime + stime in clock ticks of 1/100 s, after the command name (which may hold spaces).
    private static double StatCpuSeconds(string stat)
    {
        var fields = StatFields(stat);
        return fields.Length > 12
            ? (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / 100 : 0;
    }

    // The fields after "pid (comm) ": state, ppid, ...
    private static string[] StatFields(string stat) =>
        stat.Length == 0 ? [] : stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
}

/// <summary>
/// What a bench changes on the machine (CPU affinity of the processes it started, kernel switches), each change
/// recorded with the value it replaced and undone on <see cref="Dispose"/>, in reverse order; use it in a finally.
/// </summary>
public sealed class MachineChanges : IDisposable
{
    private readonly List<(string What, Action Undo)> _undo = [];
    private readonly Dictionary<int, string> _pinned = [];
    private readonly Lock _gate = new();
    private readonly List<PosixSignalRegistration> _signals = [];

    /// <summary>
    /// Also undoes the changes when the bench is stopped by SIGINT or SIGTERM (a finally block does not run then),
    /// after <paramref name="alsoOnSignal"/> (stopping what the bench started, say).
    /// </summary>
    public MachineChanges UndoOnSignal(Action? alsoOnSignal = null)
    {
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            _signals.Add(PosixSignalRegistration.Create(signal, _ =>
            {
                alsoOnSignal?.Invoke();
                Dispose();
            }));
        return this;
    }

    /// <summary>Pins every thread of the process to the cores ("1", "0-1"), remembering where it was allowed first.</summary>
    public bool Pin(int pid, string cores)
    {
        lock (_gate) return PinLocked(pid, cores);
    }

    private bool PinLocked(int pid, string cores)
    {
        if (!_pinned.ContainsKey(pid))
        {
            var before = ProcessFacts.AllowedCores(pid);
            if (before.Length == 0) return false;
            _pinned[pid] = before;
            _undo.Add(($"affinity of {pid}", () => SetAffinity(pid, before)));
        }

        return SetAffinity(pid, cores);
    }

    /// <summary>Pins a process and everything it started.</summary>
    public void PinTree(int root, string cores)
    {
        foreach (var pid in ProcessFacts.Tree(root)) Pin(pid, cores);
    }

    /// <summary>Writes a /proc/sys switch, remembering its value; false (and nothing changed) when it cannot.</summary>
    public bool SetSwitch(string path, string value)
    {
        lock (_gate) return SetSwitchLocked(path, value);
    }

    private bool SetSwitchLocked(string path, string value)
    {
        var before = ProcessFacts.Read(path).Trim();
        if (before.Length == 0) return false;
        if (before == value) return true;
        try
        {
            File.WriteAllText(path, value);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        _undo.Add((path, () => File.WriteAllText(path, before)));
        return true;
    }

    public void Dispose()
    {
        lock (_gate) UndoLocked();
    }

    private void UndoLocked()
    {
        for (var i = _undo.Count - 1; i >= 0; i--)
        {
            try
            {
                _undo[i].Undo();
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                Console.WriteLine($"  could not restore {_undo[i].What}: {exception.Message}");
            }
        }

        _undo.Clear();
        _pinned.Clear();
    }

    // taskset -a sets every thread that exists now; threads made later inherit their creator's cores.
    private static bool SetAffinity(int pid, string cores)
    {
        if (!Directory.Exists($"/proc/{pid}")) return false;
        using var taskset = Process.Start(new ProcessStartInfo("taskset", ["-a", "-p", "-c", cores, pid.ToString(CultureInfo.InvariantCulture)])
            { RedirectStandardOutput = true, RedirectStandardError = true }) ?? throw new InvalidOperationException("taskset did not start");
        taskset.StandardOutput.ReadToEnd();
        taskset.StandardError.ReadToEnd();
        taskset.WaitForExit();
        return taskset.ExitCode == 0;
    }
}
