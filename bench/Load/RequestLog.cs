using System.Collections.Concurrent;
using System.Diagnostics;

namespace DataWorkspace.Bench.Load;

/// <summary>What a simulated user does, one request (or websocket message) each; the report's rows.</summary>
public enum Operation : byte
{
    SignIn,
    Home,
    Search,
    Dataset,
    ExplorerPage,
    ExplorerRun,
    ExplorerPoll,
    ExplorerResults,
    FilesPage,
    FilesRoots,
    UploadPresign,
    UploadToS3,
    UploadConfirm,
    DownloadPresign,
    DownloadFromS3,
    ToolStart,
    ToolPage,
    WebSocketConnect,
    WebSocketEcho,
}

public static class Operations
{
    public static readonly Operation[] All = Enum.GetValues<Operation>();

    public static string Name(Operation operation) => operation switch
    {
        Operation.SignIn => "sign-in (OpenID Connect, whole flow)",
        Operation.Home => "home page",
        Operation.Search => "catalogue search",
        Operation.Dataset => "dataset page",
        Operation.ExplorerPage => "Data Explorer page",
        Operation.ExplorerRun => "Explorer query (run)",
        Operation.ExplorerPoll => "Explorer query (poll)",
        Operation.ExplorerResults => "Explorer result page",
        Operation.FilesPage => "files page",
        Operation.FilesRoots => "files: roots",
        Operation.UploadPresign => "upload: presigned form",
        Operation.UploadToS3 => "upload: POST to S3",
        Operation.UploadConfirm => "upload: confirm",
        Operation.DownloadPresign => "download: presigned URL",
        Operation.DownloadFromS3 => "download: GET from S3",
        Operation.ToolStart => "tool: open until it answers",
        Operation.ToolPage => "tool page",
        Operation.WebSocketConnect => "websocket: connect",
        Operation.WebSocketEcho => "websocket: echo",
        _ => operation.ToString(),
    };
}

/// <summary>
/// One request as the user saw it: when it started (ms into the load), what, the status (0: no answer), how long; and
/// since when what it relied on was under way (<paramref name="SinceMs"/>): the request's own start, or for a message on
/// a held websocket the last moment the connection was known to work (its opening or the last echo answered).
/// </summary>
public readonly record struct Sample(int AtMs, Operation Operation, short Status, bool Failed, float LatencyMs, int SinceMs)
{
    public int EndMs => AtMs + (int)LatencyMs;
}

/// <summary>A 5xx answer, kept whole for the report: when, where, and what the body said.</summary>
public sealed record ServerError(double AtSeconds, DateTimeOffset At, Operation Operation, string Method, string Path, int Status, string Body, float LatencyMs);

/// <summary>A fault's window, from its injection to its recovery: failures inside it are the fault's, not the load's.</summary>
public sealed record FaultWindow(string Name, DateTimeOffset Start, DateTimeOffset Recovered);

/// <summary>
/// Every request of the run, kept in memory (a few MB for 200 users over 5 minutes) so the report can be cut any way at
/// the end: per operation, per 5 s window, inside and outside the faults' windows. Each user appends to its own list.
/// </summary>
public sealed class RequestLog
{
    private readonly ConcurrentBag<List<Sample>> lists = [];
    private readonly ConcurrentQueue<ServerError> serverErrors = new();
    private readonly ConcurrentDictionary<string, int> failures = new();
    private long startTimestamp;

    public DateTimeOffset StartedAt { get; private set; }

    /// <summary>Time zero of the run: samples are placed relative to it.</summary>
    public void Start()
    {
        StartedAt = DateTimeOffset.UtcNow;
        startTimestamp = Stopwatch.GetTimestamp();
    }

    public int MillisecondsNow => (int)Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds;

    private long requests, answered5xx, failed;

    /// <summary>Running totals for progress lines (the lists are read only once the users have stopped).</summary>
    public (long Requests, long ServerErrors, long Failed) Totals => (Interlocked.Read(ref requests), Interlocked.Read(ref answered5xx), Interlocked.Read(ref failed));

    public void Count(short status, bool failure)
    {
        Interlocked.Increment(ref requests);
        if (status >= 500) Interlocked.Increment(ref answered5xx);
        if (failure) Interlocked.Increment(ref failed);
    }

    public List<Sample> NewList()
    {
        var list = new List<Sample>(2048);
        lists.Add(list);
        return list;
    }

    public void ServerError(ServerError error) => serverErrors.Enqueue(error);

    /// <summary>A failure other than a 5xx, counted by its description (the first few are printed).</summary>
    public void Failure(Operation operation, string description) =>
        failures.AddOrUpdate($"{Operations.Name(operation)}: {description}", 1, (_, count) => count + 1);

    public IReadOnlyList<ServerError> ServerErrors => [.. serverErrors.OrderBy(e => e.AtSeconds)];

    public IReadOnlyDictionary<string, int> Failures => failures;

    /// <summary>Every sample so far, in time order (a user still finishing its last request may add more).</summary>
    public Sample[] All()
    {
        var all = new List<Sample>();
        foreach (var list in lists)
            lock (list) all.AddRange(list);
        return [.. all.OrderBy(sample => sample.AtMs)];
    }

    /// <summary>
    /// Whether the sample is a fault's: what it relied on was under way at some moment of a fault's window (a request
    /// sent just before the fault and answered during it; a websocket opened before the fault that is found broken after it).
    /// </summary>
    public bool Inside(Sample sample, IReadOnlyList<FaultWindow> windows) => Inside(sample.SinceMs, sample.EndMs, windows);

    public bool Inside(int fromMs, int toMs, IReadOnlyList<FaultWindow> windows)
    {
        var (from, to) = (StartedAt.AddMilliseconds(fromMs), StartedAt.AddMilliseconds(toMs));
        return windows.Any(window => from <= window.Recovered && to >= window.Start);
    }
}

/// <summary>Nearest-rank percentiles over latencies.</summary>
public static class Percentiles
{
    public static double Of(float[] sorted, double percentile) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(percentile / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    public static float[] Sorted(IEnumerable<Sample> samples)
    {
        var latencies = samples.Select(sample => sample.LatencyMs).ToArray();
        Array.Sort(latencies);
        return latencies;
    }
}
