using System.Globalization;

namespace DataWorkspace.Sidecars.Metrics;

/// <summary>
/// A locally run tool's resource use from /proc: the CPU time, resident memory and storage I/O of a process and all its
/// descendants, including processes that have exited since, so the totals only grow as a container's would.
/// </summary>
public sealed class ProcessTreeUsage(int rootPid, string containerName, string procRoot = "/proc") : IUsageSource
{
    // The kernel reports CPU time to user space in USER_HZ ticks, 100 a second on every Linux architecture .NET runs on.
    private const double TicksPerSecond = 100;

    private readonly Dictionary<ProcessKey, Tracked> tracked = [];
    private readonly Lock gate = new();
    private Totals retired;
    private Totals reported;
    private ProcessKey? rootKey;

    public string Description => $"process {rootPid} and its descendants";

    public Task<IReadOnlyList<ContainerUsage>> ReadAsync(CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult<IReadOnlyList<ContainerUsage>>([Sample()]);
        }
    }

    private ContainerUsage Sample()
    {
        var processes = ReadProcesses();
        if (!processes.TryGetValue(rootPid, out var root) || (rootKey is { } known && root.Key != known))
            throw new UsageUnavailableException($"Process {rootPid} is not running (no {procRoot}/{rootPid}/stat, or another process has its id now).");
        rootKey = root.Key;
        var live = LiveTree(root, processes);

        // An exited process whose parent is still watched has been reaped into the parent's cumulative figures
        // (cutime, cstime and I/O); one whose parent is gone keeps its last figures here.
        foreach (var (key, process) in tracked.Where(pair => !live.ContainsKey(pair.Key)).ToList())
        {
            if (process.Parent is not { } parent || !live.ContainsKey(parent))
                retired += process.Totals;
            tracked.Remove(key);
        }

        var current = retired;
        long residentBytes = 0;
        foreach (var (key, process) in live)
        {
            var (readBytes, writeBytes) = ReadIo(Path.Combine(procRoot, key.Pid.ToString(CultureInfo.InvariantCulture)));
            var totals = new Totals(process.CpuTicks, readBytes, writeBytes);
            tracked[key] = new Tracked(process.Parent, totals);
            current += totals;
            residentBytes += process.ResidentBytes;
        }
        reported = Totals.Max(reported, current);

        return new ContainerUsage([new(MetricLabels.Container, containerName)])
        {
            CpuSeconds = reported.CpuTicks / TicksPerSecond,
            MemoryUsageBytes = residentBytes,
            MemoryWorkingSetBytes = residentBytes,
            MemoryLimitBytes = MemoryLimit(),
            BlockReadBytes = reported.ReadBytes,
            BlockWriteBytes = reported.WriteBytes,
        };
    }

    /// <summary>The root process, its descendants, and descendants seen before that were re-parented out of the tree (a daemon that double-forked).</summary>
    private Dictionary<ProcessKey, ProcessFigures> LiveTree(ProcessFigures root, Dictionary<int, ProcessFigures> processes)
    {
        var children = processes.Values.ToLookup(process => process.ParentPid);
        var live = new Dictionary<ProcessKey, ProcessFigures>();
        var pending = new Stack<ProcessFigures>();
        pending.Push(root);
        foreach (var key in tracked.Keys)
        {
            if (processes.TryGetValue(key.Pid, out var process) && process.Key == key)
                pending.Push(process);
        }
        while (pending.TryPop(out var process))
        {
            if (!live.TryAdd(process.Key, process))
                continue;
            foreach (var child in children[process.Key.Pid])
                pending.Push(child);
        }
        foreach (var process in live.Values)
            process.Parent = processes.TryGetValue(process.ParentPid, out var parent) ? parent.Key : null;
        return live;
    }

    private Dictionary<int, ProcessFigures> ReadProcesses()
    {
        var processes = new Dictionary<int, ProcessFigures>();
        foreach (var directory in Directory.EnumerateDirectories(procRoot))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                continue;
            if (ReadProcess(directory, pid) is { } process)
                processes[pid] = process;
        }
        return processes;
    }

    private static ProcessFigures? ReadProcess(string directory, int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText(Path.Combine(directory, "stat"));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null; // exited between listing and reading
        }
        // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
        var end = stat.LastIndexOf(')');
        if (end < 0)
            return null;
        var fields = stat[(end + 2)..].Split(' ');
        // fields[0] is field 3 (state) of proc_pid_stat(5).
        if (fields.Length < 22)
            return null;
        long Field(int number) => long.Parse(fields[number - 3], CultureInfo.InvariantCulture);
        return new ProcessFigures(
            new ProcessKey(pid, Field(22)),
            (int)Field(4),
            Field(14) + Field(15) + Field(16) + Field(17),
            Field(24) * Environment.SystemPageSize);
    }

    private static (long Read, long Write) ReadIo(string directory)
    {
        long read = 0, write = 0, cancelled = 0;
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(directory, "io")))
            {
                var colon = line.IndexOf(':');
                if (colon < 0 || !long.TryParse(line.AsSpan(colon + 1).Trim(), CultureInfo.InvariantCulture, out var value))
                    continue;
                switch (line[..colon])
                {
                    case "read_bytes": read = value; break;
                    case "write_bytes": write = value; break;
                    case "cancelled_write_bytes": cancelled = value; break;
                }
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Another user's process: its I/O is not ours to read; CPU and memory still are.
        }
        // Bytes written to the page cache and truncated before reaching storage never cost any I/O.
        return (read, Math.Max(0, write - cancelled));
    }

    /// <summary>The memory limit of the root process's cgroup (v2), or the machine's memory when it has none.</summary>
    private long? MemoryLimit()
    {
        try
        {
            var cgroup = File.ReadLines(Path.Combine(procRoot, rootPid.ToString(CultureInfo.InvariantCulture), "cgroup"))
                .FirstOrDefault(line => line.StartsWith("0::", StringComparison.Ordinal))?[3..];
            if (cgroup is not null)
            {
                var max = Path.Combine("/sys/fs/cgroup", cgroup.TrimStart('/'), "memory.max");
                if (File.Exists(max) && long.TryParse(File.ReadAllText(max).Trim(), CultureInfo.InvariantCulture, out var limit))
                    return limit;
            }
            var total = File.ReadLines(Path.Combine(procRoot, "meminfo")).FirstOrDefault(line => line.StartsWith("MemTotal:", StringComparison.Ordinal));
            var kilobytes = total?["MemTotal:".Length..].Trim().Split(' ')[0];
            return long.TryParse(kilobytes, CultureInfo.InvariantCulture, out var value) ? value * 1024 : null;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>A process by id and start time, so a recycled id is not taken for the process that had it.</summary>
    private readonly record struct ProcessKey(int Pid, long StartTime);

    private sealed record Tracked(ProcessKey? Parent, Totals Totals);

    /// <summary>A process's own CPU time plus that of the children it has reaped (cutime, cstime), in ticks, and its resident memory.</summary>
    private sealed record ProcessFigures(ProcessKey Key, int ParentPid, long CpuTicks, long ResidentBytes)
    {
        public ProcessKey? Parent { get; set; }
    }

    private readonly record struct Totals(long CpuTicks, long ReadBytes, long WriteBytes)
    {
        public static Totals operator +(Totals a, Totals b) => new(a.CpuTicks + b.CpuTicks, a.ReadBytes + b.ReadBytes, a.WriteBytes + b.WriteBytes);

        public static Totals Max(Totals a, Totals b) =>
            new(Math.Max(a.CpuTicks, b.CpuTicks), Math.Max(a.ReadBytes, b.ReadBytes), Math.Max(a.WriteBytes, b.WriteBytes));
    }
}
