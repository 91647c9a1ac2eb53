// bench/Fuzz: malformed input at five of the platform's doors, generated from a seed (printed; --seed replays a run):
// HTTP at the proxy (raw sockets), SQL at the Explorer's API, DNS packets at dns-rewrite, CSV at the reference data
// upload, S3 keys at the files API. Target (issue 21): no crash, no 5xx where a 4xx is right; the counts reported.
// Run: dotnet run -c Release --project bench/Fuzz [--seed N] [--seconds S (per target)] [--cases N (per target)]
//      [--only proxy,explorer,dns,csv,files] [--out DIR (the failing inputs)]
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using DataWorkspace.Bench;
using DataWorkspace.Bench.Fuzz;
using DataWorkspace.TestSupport;

const string Bench = "Fuzz";
var seed = Option("--seed") is { } given ? int.Parse(given, CultureInfo.InvariantCulture) : Random.Shared.Next(1, 1_000_000);
var cases = Option("--cases") is { } max ? int.Parse(max, CultureInfo.InvariantCulture) : int.MaxValue;
var targets = (Option("--only") ?? "proxy,explorer,dns,csv,files").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
// The suite's profile fits its 2 minutes with the platform's start: the DNS target runs while the platform starts.
var seconds = Option("--seconds") is { } s ? TimeSpan.FromSeconds(double.Parse(s, CultureInfo.InvariantCulture)) : TimeSpan.Zero;
TimeSpan For(string target, double suite, double alone) => seconds > TimeSpan.Zero ? seconds : TimeSpan.FromSeconds(BenchResults.InSuite ? suite : alone);
var resultsFile = Environment.GetEnvironmentVariable(BenchResults.FileVariable);
var output = Option("--out") ?? (string.IsNullOrEmpty(resultsFile)
    ? Path.Combine(Path.GetTempPath(), $"dw-fuzz-{seed}")
    : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(resultsFile))!, "fuzz"));
Console.WriteLine($"Fuzz seed {seed} (replay with --seed {seed}); {(BenchResults.InSuite ? "suite profile" : "full profile")}; failing inputs go to {output}. Load average: {File.ReadAllText("/proc/loadavg").Split(' ')[0]}.");

var tallies = new List<Tally>();
var victimProbes = 0;
Tally NewTally(string target)
{
    var tally = new Tally(target, output);
    tallies.Add(tally);
    return tally;
}

// Under the suite everything stops 100 s after the start, whatever is left is reported, and the suite's kill at 2 min
// comes after the figures are written.
var started = System.Diagnostics.Stopwatch.StartNew();
using var stop = new CancellationTokenSource(BenchResults.InSuite ? TimeSpan.FromSeconds(100) : TimeSpan.FromHours(1));
async Task RunTargetAsync(string target, Func<Task> run)
{
    Console.WriteLine($"[{started.Elapsed.TotalSeconds:0} s] {target} ...");
    try
    {
        await run();
    }
    catch (Exception exception) when (stop.IsCancellationRequested && exception is OperationCanceledException or HttpRequestException)
    {
        Console.WriteLine($"[{started.Elapsed.TotalSeconds:0} s] {target}: stopped at the deadline; what it sent so far is counted.");
    }
}
var dns = Task.CompletedTask;
if (targets.Contains("dns"))
{
    var tally = NewTally("dns");
    dns = RunTargetAsync("dns", async () =>
    {
        await using var fuzz = await DnsFuzz.StartAsync(tally, new Mutator(seed + 3));
        await fuzz.RunAsync(For("dns", 15, 60), cases, stop.Token);
    });
}

var web = targets.Intersect(["proxy", "explorer", "csv", "files"]).Any();
if (web)
{
    var dataDirectory = Path.Combine(Path.GetTempPath(), "dw-bench-fuzz-" + Guid.NewGuid().ToString("N")[..8]);
    Console.WriteLine($"Starting the platform (Local mode, Production settings, data in {dataDirectory}) ...");
    var platform = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, Ports.Free(), stop.Token, testSettings: false);
    try
    {
        using var tom = platform.Client();
        using var morgan = platform.Client();
        await Task.WhenAll(tom.SignInAsync("tom.evans@partner.example", cancellationToken: stop.Token), morgan.SignInAsync("morgan.lee@trade.example", cancellationToken: stop.Token));
        var tomRoots = await RootsAsync(tom);
        var morganHome = (await RootsAsync(morgan))[0];
        Console.WriteLine($"Signed in as Tom ({tomRoots[0]}) and Morgan ({morganHome}).");

        if (targets.Contains("proxy")) await RunTargetAsync("proxy", async () =>
        {
            var tally = NewTally("proxy");
            var port = platform.PortalUrl.Port;
            var fuzz = new ProxyFuzz(port, tomRoots[0], morgan.Cookies.GetCookieHeader(platform.PortalUrl), tomRoots[0]["home/".Length..^1], tally, new Mutator(seed + 1));
            await fuzz.RunAsync(tom, For("proxy", 16, 60), cases, stop.Token);
            CheckRunning(platform, tally);
            victimProbes = fuzz.Probes;
        });
        if (targets.Contains("explorer")) await RunTargetAsync("explorer", async () =>
        {
            var tally = NewTally("explorer");
            await new ExplorerFuzz(tally, new Mutator(seed + 2)).RunAsync(tom, For("explorer", 10, 60), cases, stop.Token);
            CheckRunning(platform, tally);
        });
        if (targets.Contains("csv")) await RunTargetAsync("csv", async () =>
        {
            var tally = NewTally("csv");
            var fuzz = new CsvFuzz(tally, new Mutator(seed + 4));
            await fuzz.SetUpAsync(platform, morgan, stop.Token);
            await fuzz.RunAsync(For("csv", 8, 60), cases, stop.Token);
            CheckRunning(platform, tally);
        });
        if (targets.Contains("files")) await RunTargetAsync("files", async () =>
        {
            var tally = NewTally("files");
            var fuzz = new FilesFuzz(tally, new Mutator(seed + 5), tomRoots, morganHome);
            await fuzz.SetUpAsync(tom, stop.Token);
            await fuzz.RunAsync(tom, For("files", 8, 60), cases, stop.Token);
            CheckRunning(platform, tally);
        });
        await dns;
        Report();
    }
    finally
    {
        await platform.DisposeAsync();
        TestDirectories.Delete(dataDirectory);
    }
}
if (!web)
{
    await dns;
    Report();
}
return 0;

// The figures, written before the platform is stopped (the suite may end the run during that).
void Report()
{
    Console.WriteLine();
    Console.WriteLine($"Fuzz seed {seed}:");
    foreach (var tally in tallies)
        Console.WriteLine("  " + tally.Summary());
    foreach (var tally in tallies)
    {
        var checks = tally.Target switch
        {
            "proxy" => new[] { ("leak", "answers showing another user's data"), ("victim", "wrong or failed answers to the signed-in user") },
            "files" => [("outside", "keys or presigned URLs outside the user's roots")],
            "explorer" or "csv" => [("unclear 4xx", "refusals without a message")],
            _ => [],
        };
        BenchResults.Info(Bench, $"{tally.Target}: inputs sent", tally.Sent, "inputs", note: string.Join(", ", tally.Outcomes.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key} {o.Value:N0}")) + $"; seed {seed}");
        BenchResults.Under(Bench, $"{tally.Target}: 5xx", tally.Count("5xx"), "answers", 1, note: tally.Target == "dns" ? "SERVFAIL to a malformed query" : null);
        BenchResults.Under(Bench, $"{tally.Target}: crashes", tally.Count("crash"), "crashes", 1);
        if (tally.Target == "proxy") BenchResults.Info(Bench, "proxy: the signed-in user's own requests alongside", victimProbes, "requests");
        foreach (var (kind, what) in checks)
            BenchResults.Under(Bench, $"{tally.Target}: {what}", tally.Count(kind), "answers", 1);
        BenchResults.Bars(Bench, $"{tally.Target}: outcomes", "inputs", [.. tally.Outcomes.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => (o.Key, (double)o.Value))]);
    }
    var findings = tallies.Sum(t => t.Findings.Count);
    Console.WriteLine(findings == 0 ? "No findings." : $"{findings} findings; their inputs are in {output}.");
}

string? Option(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();

static async Task<List<string>> RootsAsync(PortalClient client)
{
    var roots = await client.Http.GetFromJsonAsync<JsonElement>("/api/v1/files/roots");
    return [.. roots.GetProperty("roots").EnumerateArray().OrderBy(r => r.GetProperty("kind").GetString() == "home" ? 0 : 1).Select(r => r.GetProperty("prefix").GetString()!)];
}

// A service that stopped during a target is that target's crash.
static void CheckRunning(RunningPlatform platform, Tally tally)
{
    foreach (var resource in new[] { "proxy", "web" })
        if (!platform.App.ResourceNotifications.TryGetCurrentState(resource, out var state) || state.Snapshot.State?.Text != "Running")
            tally.Found("crash", $"after the {tally.Target} target", $"{resource} is {state?.Snapshot.State?.Text ?? "gone"}", []);
}
