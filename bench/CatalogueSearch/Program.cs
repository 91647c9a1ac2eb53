// bench/CatalogueSearch: the catalogue search page with 10,000 datasets, 16 concurrent signed-in clients through the
// proxy. Target (issue 3): p95 under 50 ms on a 2-core machine. Run: dotnet run -c Release --project bench/CatalogueSearch
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Aspire.Hosting.Testing;
using DataWorkspace.Bench;
using DataWorkspace.TestSupport;

const string Bench = "CatalogueSearch";
const int Datasets = 10_000;
const int Concurrency = 16;
var suite = BenchResults.InSuite;
// The suite gives this bench 2.5 minutes, start and seeding included: warm-up rounds stop in time for the measurements.
var budget = TimeSpan.FromSeconds(150);
var warmUp = TimeSpan.FromSeconds(10);
var measure = TimeSpan.FromSeconds(suite ? 20 : 30);
var measureHome = TimeSpan.FromSeconds(suite ? 10 : 30);
var clock = Stopwatch.StartNew();
void Phase(string text) => Console.WriteLine($"[{clock.Elapsed.TotalSeconds,5:N0} s] {text}");
var words = SeededCatalogue.Words;

var dataDirectory = Path.Combine(Path.GetTempPath(), "dw-bench-" + Guid.NewGuid().ToString("N")[..8]);
var port = Ports.Free();
Phase($"Starting the platform (Local mode, data in {dataDirectory}; {(suite ? "suite" : "full")} profile) ...");
var platform = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, port, CancellationToken.None, testSettings: false);
try
{
    var app = platform.App;

    Phase($"Seeding {Datasets:N0} datasets ...");
    var catalogue = (await app.GetConnectionStringAsync("catalogue"))!;
    await SeededCatalogue.SeedAsync(catalogue, Datasets, "bench", ["SourceDataset", "DataCut", "ReferenceDataset", "Visualisation"]);

    using var client = platform.Client();
    await client.SignInAsync("tom.evans@partner.example");
    // Filtered searches that find something: for each word, the dataset type with the most datasets Tom may read that
    // the word matches (as the search matches: the text index, or the name).
    var filtered = new List<string>();
    foreach (var word in words)
    {
        var type = await Sql.ScalarAsync<string>(catalogue, """
            SELECT type FROM datasets
            WHERE published AND deleted_at IS NULL AND access_type <> 'RequiresAuthorization'
              AND (search_vector @@ websearch_to_tsquery('english', $1) OR name ILIKE '%' || $1 || '%')
            GROUP BY type ORDER BY count(*) DESC, type LIMIT 1
            """, word);
        filtered.Add(type is null ? $"/datasets?q={word}&access=true" : $"/datasets?q={word}&access=true&type={type}");
    }
    string[] paths =
    [
        .. words.Select(w => $"/datasets?q={w}"),
        .. filtered,
        "/datasets", "/datasets?page=50", "/datasets?topic=Bench+topic+3&sort=Newest", "/datasets?publisher=Publisher+7",
    ];

    // Every search in the mix is meant to find something: check that each does, as the page says it.
    Phase($"Checking what each of the {paths.Length} searches finds ...");
    var found = new Dictionary<string, int>();
    foreach (var path in paths)
    {
        var page = await client.Http.GetStringAsync(path);
        var count = ResultCount().Match(page);
        found[path] = count.Success ? int.Parse(count.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture) : 0;
    }
    var withResults = paths.Count(path => found[path] > 0) / (double)paths.Length;
    var filteredWithResults = filtered.Count(path => found[path] > 0) / (double)filtered.Count;
    Console.WriteLine($"  {withResults * 100:N0}% of the searches find something ({filteredWithResults * 100:N0}% of the {filtered.Count} filtered ones); results per search: {string.Join(", ", paths.Select(path => $"{path} {found[path]:N0}"))}");

    // wrk is the load generator, as for the other HTTP benchmarks: an HttpClient loop in this process spent as much CPU
    // as the proxy on these two shared cores. Each of the 16 connections carries the signed-in user's cookie and asks for
    // a path picked at random; a non-2xx answer counts as an error and fails the run.
    var cookie = client.Cookies.GetCookieHeader(client.PortalUrl);
    var wrkCpuSeconds = 0.0;
    var script = Path.Combine(dataDirectory, "search.lua");
    async Task<(long Requests, double P50, double P95, double P99)> RunAsync(TimeSpan duration, string[]? only = null)
    {
        var targets = only ?? paths;
        await File.WriteAllTextAsync(script, $$"""
            local paths = { {{string.Join(", ", targets.Select(t => "\"" + t + "\""))}} }
            math.randomseed(42)
            request = function() return wrk.format("GET", paths[math.random(#paths)]) end
            done = function(summary, latency, requests)
              local e = summary.errors
              io.write(string.format("WRK %d %d %.3f %.3f %.3f\n", summary.requests, e.connect + e.read + e.write + e.status + e.timeout,
                latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
            end
            """);
        // Through bash, whose `times` then prints the CPU wrk used (its children's user and system time).
        var start = new ProcessStartInfo("bash", ["-c", "wrk \"$@\" && times", "wrk",
            "-t1", $"-c{Concurrency}", $"-d{duration.TotalSeconds:0}s", "--timeout", "10s", "-s", script,
            "-H", $"Host: {client.PortalUrl.Authority}", "-H", $"Cookie: {cookie}", $"http://127.0.0.1:{client.PortalUrl.Port}/"])
        { RedirectStandardOutput = true };
        using var wrk = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start");
        var output = await wrk.StandardOutput.ReadToEndAsync();
        await wrk.WaitForExitAsync();
        var times = output.TrimEnd().Split('\n')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        wrkCpuSeconds = times.Sum(t => int.Parse(t[..t.IndexOf('m')]) * 60 + double.Parse(t[(t.IndexOf('m') + 1)..^1], System.Globalization.CultureInfo.InvariantCulture));
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("WRK ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("wrk printed no figures:\n" + output);
        var f = line.Split(' ');
        if (long.Parse(f[2]) > 0) throw new InvalidOperationException($"{f[2]} of {f[1]} requests failed (non-2xx or socket errors):\n{output}");
        var n = System.Globalization.CultureInfo.InvariantCulture;
        return (long.Parse(f[1]), double.Parse(f[3], n), double.Parse(f[4], n), double.Parse(f[5], n));
    }

    // Steady state, as a long-running service has it: the JIT keeps recompiling hot code (tier 0, instrumented, then
    // optimised with dynamic PGO) for a minute or more under this load, and figures taken before it is done are up to
    // twice as slow. So load in rounds until the web app's and the proxy's tiered-compilation threads go quiet.
    var webPid = platform.ProcessId("web");
    var proxyPid = platform.ProcessId("proxy");
    var postgresPid = platform.ProcessId("postgres");
    Console.WriteLine($"  processes measured: web {webPid}, proxy {proxyPid}, postgres {postgresPid} and its backends");
    var jitShare = 1.0;
    var rounds = 0;
    for (var round = 1; ; round++)
    {
        var jitBefore = TieredCompilationSeconds(webPid, proxyPid);
        await RunAsync(warmUp);
        // Per thread: the compiler's thread ends when idle for a while and a new one starts when work comes.
        jitShare = TieredCompilationSeconds(webPid, proxyPid).Sum(thread => thread.Value - jitBefore.GetValueOrDefault(thread.Key)) / warmUp.TotalSeconds;
        rounds = round;
        Phase($"Warm-up round {round} ({warmUp.TotalSeconds:0} s): the JIT's background compiler used {jitShare * 100:N1}% of a core");
        if (jitShare < 0.02) break;
        if (suite && clock.Elapsed + warmUp + measure + measureHome + TimeSpan.FromSeconds(30) > budget)
        {
            Console.WriteLine("  ... still compiling, but the suite's time is up: measuring anyway");
            break;
        }
        if (round == 18)
        {
            Console.WriteLine("  ... still compiling after 3 minutes: measuring anyway");
            break;
        }
    }
    var jitNote = jitShare < 0.02
        ? $"the JIT was idle when measured ({jitShare * 100:N1}% of a core in the last of {rounds} warm-up rounds of {warmUp.TotalSeconds:0} s)"
        : $"the JIT was NOT yet idle when measured ({jitShare * 100:N1}% of a core in the last of {rounds} warm-up rounds of {warmUp.TotalSeconds:0} s{(suite ? ", capped by the suite's 2.5 minutes" : "")}): figures are pessimistic";
    Phase($"Measuring for {measure.TotalSeconds:0} s with {Concurrency} concurrent clients (wrk) ...");
    using var metricsClient = new HttpClient();
    var services = new[] { "web", "proxy" };
    var before = await Task.WhenAll(services.Select(service => RuntimeFiguresAsync(service)));
    var (postgresBefore, stealBefore) = (TreeCpuSeconds(postgresPid), ProcessFacts.StolenSeconds());
    var all = await RunAsync(measure);
    var after = await Task.WhenAll(services.Select(service => RuntimeFiguresAsync(service)));
    var (postgresCpu, wrkCpu, stolen) = (TreeCpuSeconds(postgresPid) - postgresBefore, wrkCpuSeconds, ProcessFacts.StolenSeconds() - stealBefore);
    var p95 = all.P95;
    Console.WriteLine($"catalogue search, {Datasets:N0} datasets, concurrency {Concurrency}, through the proxy:");
    Console.WriteLine($"  requests {all.Requests:N0}  ({all.Requests / measure.TotalSeconds:N0}/s)  p50 {all.P50:N1} ms  p95 {p95:N1} ms  p99 {all.P99:N1} ms");
    Console.WriteLine($"  target p95 < 50 ms: {(p95 < 50 ? "met" : "NOT met")} (ratio to target {p95 / 50:N2})");
    for (var i = 0; i < services.Length; i++)
    {
        var (cpu, allocated, collections, paused) = (after[i].Cpu - before[i].Cpu, after[i].Allocated - before[i].Allocated,
            after[i].Collections - before[i].Collections, after[i].Paused - before[i].Paused);
        Console.WriteLine($"  {services[i]}: CPU {cpu * 1000 / all.Requests:N2} ms, allocated {allocated / 1024 / all.Requests:N0} KB a request; " +
            $"{collections / measure.TotalSeconds:N1} GCs/s, paused {paused / measure.TotalSeconds * 100:N1}% of the time");
    }

    Console.WriteLine($"  postgres: CPU {postgresCpu * 1000 / all.Requests:N2} ms a request; wrk (the load generator): {wrkCpu * 1000 / all.Requests:N2} ms");
    // A virtual machine's hypervisor may run other guests on "our" cores: time stolen makes every figure above worse.
    Console.WriteLine($"  CPU time stolen by the hypervisor: {stolen / measure.TotalSeconds / Environment.ProcessorCount * 100:N1}% of the machine (runs with more than ~2% are not comparable)");

    // The target's figures go to the suite at once: a run stopped at its budget keeps them.
    var stolenShare = stolen / measure.TotalSeconds / Environment.ProcessorCount;
    var mix = $"{paths.Length} searches (free text, filtered, deep page, topic, publisher), {withResults * 100:N0}% of them finding something";
    BenchResults.Under(Bench, $"Search p95, {Datasets:N0} datasets, {Concurrency} signed-in clients through the proxy", p95, "ms", 50,
        $"wrk for {measure.TotalSeconds:0} s over {mix}; {jitNote}; hypervisor stole {stolenShare * 100:N1}% of the machine");
    BenchResults.Record(new Figure(Bench, "Share of the searches that find something", withResults * 100, "%", Target: ">= 95 %", Met: withResults >= 0.95,
        Note: $"every search in the mix is meant to find something; {filteredWithResults * 100:N0}% of the {filtered.Count} filtered ones do (filters derived from the seeded data: each word with the type it matches most among datasets Tom may read); checked on the page before the load"));

    // The floor: the portal's home page (proxy, signed identity, web, one cached user lookup) under the same load.
    Phase($"Measuring the home page for comparison ({measureHome.TotalSeconds:0} s) ...");
    var home = await RunAsync(measureHome, ["/"]);
    Console.WriteLine($"  home page: requests {home.Requests:N0}  ({home.Requests / measureHome.TotalSeconds:N0}/s)  p50 {home.P50:N1} ms  p95 {home.P95:N1} ms");
    Console.WriteLine($"  search p95 / home p95: {p95 / home.P95:N2}");

    BenchResults.Info(Bench, "Search p50", all.P50, "ms", "home page p50, same load", home.P50);
    BenchResults.Info(Bench, "Search p99", all.P99, "ms");
    BenchResults.Info(Bench, "Search throughput", all.Requests / measure.TotalSeconds, "req/s", "home page", home.Requests / measureHome.TotalSeconds,
        "the home page (proxy, signed identity, web app, one cached lookup) under the same load is the floor");
    BenchResults.Info(Bench, "Home page p95, same load", home.P95, "ms");
    BenchResults.Bars(Bench, "Latency under load", "ms", [("search p50", all.P50), ("search p95", all.P95), ("search p99", all.P99), ("home page p50", home.P50), ("home page p95", home.P95)]);
    BenchResults.Bars(Bench, "Requests per second", "req/s", [("search", all.Requests / measure.TotalSeconds), ("home page", home.Requests / measureHome.TotalSeconds)]);

    // CPU seconds of a process and all its descendants, from /proc: PostgreSQL's backends come and go, and those that
    // ended are counted in the postmaster's children's time.
    static double TreeCpuSeconds(int root)
    {
        var parents = Directory.EnumerateDirectories("/proc")
            .Select(dir => (Pid: int.TryParse(Path.GetFileName(dir), out var pid) ? pid : 0, Stat: ""))
            .Where(entry => entry.Pid > 0)
            .Select(entry => (entry.Pid, Stat: ReadOrEmpty($"/proc/{entry.Pid}/stat")))
            .Where(entry => entry.Stat.Length > 0)
            .ToDictionary(entry => entry.Pid, entry => entry.Stat);
        double Own(string stat, bool withChildren) => StatCpuSeconds(stat) + (withChildren ? StatChildrenCpuSeconds(stat) : 0);
        var total = parents.TryGetValue(root, out var rootStat) ? Own(rootStat, true) : 0;
        var tree = new HashSet<int> { root };
        bool grew;
        do
        {
            grew = false;
            foreach (var (pid, stat) in parents)
                if (!tree.Contains(pid) && tree.Contains(ParentOf(stat)))
                {
                    tree.Add(pid);
                    total += Own(stat, true);
                    grew = true;
                }
        }
        while (grew);
        return total;
    }

    static int ParentOf(string stat) => int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);

    static double StatChildrenCpuSeconds(string stat)
    {
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (double.Parse(fields[13], CultureInfo.InvariantCulture) + double.Parse(fields[14], CultureInfo.InvariantCulture)) / 100;
    }

    // CPU seconds of the ".NET Tiered Compilation" worker threads of the given processes.
    static Dictionary<string, double> TieredCompilationSeconds(params int[] pids) => pids
        .Select(pid => $"/proc/{pid}")
        .SelectMany(dir => Directory.Exists(Path.Combine(dir, "task")) ? Directory.EnumerateDirectories(Path.Combine(dir, "task")) : [])
        .Select(task => (Task: task, Stat: ReadOrEmpty(Path.Combine(task, "stat"))))
        .Where(thread => thread.Stat.Contains("(.NET Tiered Com)"))
        .ToDictionary(thread => thread.Task, thread => StatCpuSeconds(thread.Stat));

    // utime + stime, in clock ticks of 1/100 s, after the command name (which may hold spaces).
    static double StatCpuSeconds(string stat)
    {
        if (stat.Length == 0) return 0;
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (double.Parse(fields[11]) + double.Parse(fields[12])) / 100;
    }

    static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return ""; // The process or thread ended meanwhile.
        }
    }

    // The "steal" column of /proc/stat's cpu line, in seconds (clock ticks of 1/100 s).

    // The service's own runtime figures from its Prometheus endpoint: CPU seconds, bytes allocated, GCs, GC pause seconds.
    async Task<(double Cpu, double Allocated, double Collections, double Paused)> RuntimeFiguresAsync(string service)
    {
        var text = await metricsClient.GetStringAsync(new Uri(app.GetEndpoint(service, "http"), "/metrics"));
        // Lines are "name{labels} value [timestamp]"; every series of the name is summed.
        double Sum(string name) => text.Split('\n')
            .Where(line => line.StartsWith(name + "{", StringComparison.Ordinal) || line.StartsWith(name + " ", StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture));
        return (Sum("dotnet_process_cpu_time_seconds_total"), Sum("dotnet_gc_heap_total_allocated_bytes_total"),
            Sum("dotnet_gc_collections_total"), Sum("dotnet_gc_pause_time_seconds_total"));
    }
}
finally
{
    await platform.DisposeAsync();
    TestDirectories.Delete(dataDirectory);
    Phase("Done.");
}

partial class Program
{
    [GeneratedRegex("data-testid=\"result-count\">([\\d,]+) dataset")]
    private static partial Regex ResultCount();
}
