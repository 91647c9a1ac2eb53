using System.Globalization;

namespace DataWorkspace.Bench.Load;

/// <summary>The run's figures, from the whole request log: printed, and handed to the suite as figures and plot lines.</summary>
public sealed class LoadReport(string bench, RequestLog log, IReadOnlyList<FaultWindow> faults, double loadSeconds)
{
    private const int WindowSeconds = 5;
    private static readonly CultureInfo N = CultureInfo.InvariantCulture;
    private readonly Sample[] samples = log.All();

    private IEnumerable<Sample> OutsideFaults => samples.Where(sample => !log.Inside(sample, faults));

    public void Print(IReadOnlyList<double> signIns, int signInFailures)
    {
        Console.WriteLine();
        Console.WriteLine($"== {samples.Length:N0} requests in {loadSeconds:N0} s ({samples.Length / loadSeconds:N1}/s) ==");
        Console.WriteLine($"{"operation",-38} {"count",8} {"failed",7} {"5xx",5} {"p50 ms",9} {"p95 ms",9} {"p99 ms",9} {"max ms",9}");
        var signInSorted = signIns.Select(value => (float)value).Order().ToArray();
        Console.WriteLine($"{Operations.Name(Operation.SignIn),-38} {signIns.Count,8:N0} {signInFailures,7:N0} {"",5} {Percentiles.Of(signInSorted, 50),9:N1} {Percentiles.Of(signInSorted, 95),9:N1} {Percentiles.Of(signInSorted, 99),9:N1} {(signInSorted.Length > 0 ? signInSorted[^1] : 0),9:N1}");
        foreach (var (operation, of) in ByOperation())
        {
            var sorted = Percentiles.Sorted(of);
            Console.WriteLine($"{Operations.Name(operation),-38} {of.Count,8:N0} {of.Count(s => s.Failed),7:N0} {of.Count(s => s.Status >= 500),5:N0} {Percentiles.Of(sorted, 50),9:N1} {Percentiles.Of(sorted, 95),9:N1} {Percentiles.Of(sorted, 99),9:N1} {sorted[^1],9:N1}");
        }

        var serverErrors = log.ServerErrors;
        Console.WriteLine();
        Console.WriteLine($"5xx answers: {serverErrors.Count}");
        foreach (var error in serverErrors.Take(40))
            Console.WriteLine($"  {error.AtSeconds,7:N1} s ({error.At:HH:mm:ss.fff}) {error.Status} {error.Method} {error.Path} [{Operations.Name(error.Operation)}]{(log.Inside((int)(error.AtSeconds * 1000), (int)(error.AtSeconds * 1000 + error.LatencyMs), faults) ? " (in a fault's window)" : "")}: {error.Body.ReplaceLineEndings(" ")[..Math.Min(error.Body.Length, 200)]}");
        if (serverErrors.Count > 40) Console.WriteLine($"  ... and {serverErrors.Count - 40} more");
        Console.WriteLine($"Other failures: {log.Failures.Values.Sum()}");
        foreach (var (description, count) in log.Failures.OrderByDescending(f => f.Value).Take(25))
            Console.WriteLine($"  {count,6:N0} x {description}");

        var outside = OutsideFaults.Where(sample => sample.Failed).ToList();
        if (faults.Count > 0 && outside.Count > 0)
        {
            Console.WriteLine($"Failed outside the faults' windows: {outside.Count}");
            foreach (var sample in outside.Take(20))
                Console.WriteLine($"  {sample.AtMs / 1000.0,7:N1} s ({log.StartedAt.AddMilliseconds(sample.AtMs):HH:mm:ss.fff}) {Operations.Name(sample.Operation)}: " +
                    $"{(sample.Status == 0 ? "no answer" : sample.Status.ToString(N))} after {sample.LatencyMs:N0} ms{(sample.SinceMs < sample.AtMs ? $", on a connection last known to work at {sample.SinceMs / 1000.0:N1} s" : "")}");
        }

        foreach (var fault in faults)
        {
            // A sample within several windows (a websocket last seen working before one fault and found broken after the next)
            // is the first one's: a connection broken by it stays broken.
            var inside = samples.Where(sample => faults.Where(window => log.Inside(sample, [window])).MinBy(window => window.Start) == fault).ToList();
            Console.WriteLine($"Fault {fault.Name}: {fault.Start:HH:mm:ss.f} .. {fault.Recovered:HH:mm:ss.f} ({(fault.Recovered - fault.Start).TotalSeconds:N1} s): " +
                $"{inside.Count:N0} requests, {inside.Count(s => s.Status >= 500)} 5xx, {inside.Count(s => s.Failed)} failed");
        }
    }

    public void Record(IReadOnlyList<double> signIns, int userCount, double generatorCpuPercent,
        IReadOnlyDictionary<string, (double Megabytes, int Processes)> before, IReadOnlyDictionary<string, double> peak,
        IReadOnlyDictionary<string, (double Megabytes, int Processes)> after,
        IReadOnlyDictionary<string, List<(double X, double Y)>> memorySeries, IReadOnlyList<(double X, double Y)> cpuSeries)
    {
        var outside = OutsideFaults.ToList();
        var where = faults.Count > 0 ? " outside the faults' windows" : "";
        BenchResults.Record(new Figure(bench, "5xx answers" + where, outside.Count(s => s.Status >= 500), "answers", Target: "0", Met: outside.All(s => s.Status < 500),
            Note: $"{samples.Length:N0} requests from {userCount} users"));
        BenchResults.Record(new Figure(bench, "failed requests" + where, outside.Count(s => s.Failed), "requests", Target: "0", Met: outside.All(s => !s.Failed),
            Note: "5xx, no answer, a wrong status or body, a redirect to sign in"));
        if (faults.Count > 0)
        {
            var inside = samples.Where(sample => log.Inside(sample, faults)).ToList();
            BenchResults.Info(bench, "5xx answers in the faults' windows", inside.Count(s => s.Status >= 500), "answers", note: $"{inside.Count(s => s.Failed)} failed of {inside.Count:N0} requests");
        }

        BenchResults.Info(bench, "requests per second", samples.Length / loadSeconds, "requests/s", note: $"{userCount} users for {loadSeconds:N0} s");
        var signInSorted = signIns.Select(value => (float)value).Order().ToArray();
        BenchResults.Info(bench, "sign-in p95", Percentiles.Of(signInSorted, 95), "ms", note: $"{signIns.Count} distinct users through the OpenID Connect flow, 8 at a time; p50 {Percentiles.Of(signInSorted, 50):N0} ms");
        foreach (var (operation, of) in ByOperation())
        {
            var sorted = Percentiles.Sorted(of);
            var note = $"{of.Count:N0} requests, {of.Count(s => s.Failed)} failed; p50 {Percentiles.Of(sorted, 50):N1} ms, p99 {Percentiles.Of(sorted, 99):N1} ms";
            if (operation == Operation.Search) note += "; bench/CatalogueSearch's bound (p95 < 50 ms) is for 16 clients searching without pause, not this mix";
            BenchResults.Info(bench, $"{Operations.Name(operation)} p95", Percentiles.Of(sorted, 95), "ms", note: note);
        }

        BenchResults.Under(bench, "load generator CPU", generatorCpuPercent, "% of a core", 50, note: "this process, over the load: it must not be what limits the figures");
        foreach (var (group, (megabytes, processes)) in after.OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var start = before.GetValueOrDefault(group);
            BenchResults.Info(bench, $"memory of {group} after", megabytes, "MB", peer: "before", peerValue: start.Megabytes,
                note: $"peak {peak.GetValueOrDefault(group):N0} MB; {(processes == 1 ? "RSS of its process" : $"PSS summed over {processes} processes")}");
        }

        // Plots: p95 per 5 s window per operation, requests and failures per second, memory and the generator's CPU.
        foreach (var (operation, of) in ByOperation())
        {
            var points = of.GroupBy(sample => sample.AtMs / 1000 / WindowSeconds).OrderBy(window => window.Key)
                .Select(window => ((double)(window.Key * WindowSeconds + WindowSeconds), Percentiles.Of(Percentiles.Sorted(window), 95))).ToList();
            BenchResults.Line(bench, $"p95 latency over time (5 s windows): {PlotOf(operation)}", Operations.Name(operation), "seconds into the load", "ms", points);
        }

        var windows = samples.GroupBy(sample => sample.AtMs / 1000 / WindowSeconds).OrderBy(window => window.Key).ToList();
        BenchResults.Line(bench, "requests per second", "all requests", "seconds into the load", "requests/s",
            [.. windows.Select(window => ((double)(window.Key * WindowSeconds + WindowSeconds), window.Count() / (double)WindowSeconds))]);
        BenchResults.Line(bench, "failures per 5 s", "5xx", "seconds into the load", "requests",
            [.. windows.Select(window => ((double)(window.Key * WindowSeconds + WindowSeconds), (double)window.Count(s => s.Status >= 500)))]);
        BenchResults.Line(bench, "failures per 5 s", "other failures", "seconds into the load", "requests",
            [.. windows.Select(window => ((double)(window.Key * WindowSeconds + WindowSeconds), (double)window.Count(s => s.Failed && s.Status < 500)))]);
        foreach (var (group, points) in memorySeries.OrderBy(g => g.Key, StringComparer.Ordinal))
            BenchResults.Line(bench, "memory over time", group, "seconds into the load", "MB", points);
        BenchResults.Line(bench, "load generator CPU", "this process", "seconds into the load", "% of a core", cpuSeries);

        Console.WriteLine();
        Console.WriteLine("Memory (MB): before / peak / after");
        foreach (var (group, (megabytes, processes)) in after.OrderBy(g => g.Key, StringComparer.Ordinal))
            Console.WriteLine($"  {group,-16} {before.GetValueOrDefault(group).Megabytes,8:N0} {peak.GetValueOrDefault(group),8:N0} {megabytes,8:N0}  ({processes} process{(processes == 1 ? "" : "es")})");
        Console.WriteLine($"Load generator: {generatorCpuPercent:N1}% of a core over the load");
    }

    /// <summary>Which latency plot an operation is drawn in: a plot of eighteen lines would show none of them.</summary>
    private static string PlotOf(Operation operation) => operation switch
    {
        Operation.Home or Operation.Search or Operation.Dataset or Operation.ExplorerPage or Operation.FilesPage => "pages",
        Operation.ExplorerRun or Operation.ExplorerPoll or Operation.ExplorerResults => "Data Explorer",
        Operation.ToolStart or Operation.ToolPage or Operation.WebSocketConnect or Operation.WebSocketEcho => "tools",
        _ => "files and S3",
    };

    private IEnumerable<(Operation Operation, List<Sample> Samples)> ByOperation() =>
        samples.GroupBy(sample => sample.Operation).OrderBy(group => group.Key).Select(group => (group.Key, group.ToList()));
}
