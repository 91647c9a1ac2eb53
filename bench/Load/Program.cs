// bench/Load: issue 21's load. 200 simulated users for 5 minutes against the whole platform, started locally with the
// settings a deployment runs with. Each signs in through the real OpenID Connect flow as a distinct demo user, then
// loops with think time: the home page, a catalogue search, two dataset pages, the Data Explorer (its page, a query,
// a page of the result), the files page with a small file uploaded and downloaded through the files API's presigned S3
// flow, and their tool (one user in ten; the others a shared visualisation) through the proxy, with a websocket held to
// it. Reports per operation count, errors, p50/p95/p99; every 5xx with its path and time; the memory of each process
// the platform runs before, at its peak and after. Target: no 5xx, no failed request.
// Faults (bench/Faults) run during the load from minute 1 to 4, unless --no-faults.
// Run: dotnet run -c Release --project bench/Load [-- --users 200 --minutes 5 --tool-users 20 --think-seconds 3 --no-faults]
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using DataWorkspace.Bench;
using DataWorkspace.Bench.Faults;
using DataWorkspace.Bench.Load;
using DataWorkspace.TestSupport;

const string Bench = "Load";
var n = CultureInfo.InvariantCulture;
var benchClock = System.Diagnostics.Stopwatch.StartNew();
var userCount = Option("--users", 200);
var loadTime = TimeSpan.FromMinutes(Option("--minutes", 5.0));
var toolUserCount = Math.Min(userCount, Option("--tool-users", Math.Max(1, userCount / 10)));
var meanThink = TimeSpan.FromSeconds(Option("--think-seconds", 3.0));
// The suite gives this bench 7 minutes in all; what start and sign-in take beyond their share comes off the load.
TimeSpan? budget = BenchResults.InSuite ? TimeSpan.FromMinutes(7) : null;
var afterLoadReserve = TimeSpan.FromSeconds(60);

var identities = Enumerable.Range(0, userCount)
    .Select(i => new LoadIdentity(i, $"10ad0000-0000-4000-8000-{i:D12}", $"load-user-{i:D3}@trade.example", "Load", $"User {i:D3}"))
    .ToList();
var dataDirectory = Path.Combine(Path.GetTempPath(), "dw-bench-load-" + Guid.NewGuid().ToString("N")[..8]);
var portalPort = Ports.Free();
// The proxies users are spread over (round robin); a second replica's portal is added here when the graph has one.
var portals = new List<Uri>();

// Faults (bench/Faults, issue 21 part E) run here, against the same platform while the load runs: started one minute
// into the load and cancelled at minute four. They give back each fault's window (injected .. recovered); failures
// inside a window are reported as that fault's, apart from the load's own. Null: a load without faults.
Func<RunningPlatform, CancellationToken, Task<IReadOnlyList<FaultWindow>>>? faults = args.Contains("--no-faults") ? null
    : async (running, ct) => [.. (await FaultPlan.RunAsync(running, new FaultOptions(), line => Console.WriteLine($"  [faults] {line}"), ct))
        .Select(outcome => new FaultWindow(outcome.Name, outcome.Start, outcome.Recovered))];
var secondPortalPort = Ports.Free();
var faultsFrom = TimeSpan.FromMinutes(1);
var faultsUntil = TimeSpan.FromMinutes(4);

Console.WriteLine($"Load: {userCount} users ({toolUserCount} with a tool of their own), {loadTime.TotalMinutes:0.##} minutes, think time {meanThink.TotalSeconds:0.#} s on average; load average {LoadAverage()}");
Console.WriteLine($"Starting the platform (Local mode, Production settings, data in {dataDirectory}) ...");
var platform = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, portalPort, CancellationToken.None, testSettings: false,
    addResources: builder =>
    {
        // A second proxy replica, the web app on a port of its own and the faults' witnesses (bench/Faults).
        if (faults is not null) FaultPlan.AddResources(builder, secondPortalPort);
        // The load's users, each a distinct identity at the development identity provider.
        var identity = builder.CreateResourceBuilder(builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == "identity"));
        foreach (var user in identities)
        {
            var prefix = $"DevIdentity__Users__{1000 + user.Index}__";
            identity.WithEnvironment(prefix + "Id", user.Id).WithEnvironment(prefix + "Email", user.Email)
                .WithEnvironment(prefix + "FirstName", user.FirstName).WithEnvironment(prefix + "LastName", user.LastName)
                .WithEnvironment(prefix + "Description", "a user of the load bench");
        }
    });
portals.Add(platform.PortalUrl);
if (faults is not null)
{
    // The platform counts as started once the first proxy and the web app are healthy; half the users sign in through the second.
    using var second = new CancellationTokenSource(TimeSpan.FromMinutes(2));
    await platform.App.ResourceNotifications.WaitForResourceHealthyAsync(FaultPlan.SecondProxy, second.Token);
    portals.Add(new Uri($"http://{platform.PortalUrl.Host}:{secondPortalPort.ToString(n)}/"));
}
Console.WriteLine($"  started in {benchClock.Elapsed.TotalSeconds:N1} s");
var users = new List<LoadUser>();
// Users reach the replicas as through a load balancer: a replica that is down is passed over for a new connection.
var connect = LoadBalancer.Over([.. portals.Select(portal => portal.Port)]);
using var webSockets = new HttpMessageInvoker(new SocketsHttpHandler { ConnectCallback = connect, UseProxy = false });
try
{
    var catalogue = (await platform.App.GetConnectionStringAsync("catalogue"))!;
    var datasetSlugs = await SeedCatalogueAsync(catalogue);
    var words = SeededCatalogue.Words;
    string[] searches =
    [
        .. words.Select(w => $"/datasets?q={w}"),
        .. words.Take(6).Select(w => $"/datasets?q={w}&type=SourceDataset"),
        "/datasets", "/datasets?page=5", "/datasets?access=true", "/datasets?topic=Load+topic+3&sort=Newest", "/datasets?publisher=Publisher+7",
    ];
    string[] queries =
    [
        "SELECT * FROM trade.goods_by_country ORDER BY month DESC, country_code",
        "SELECT country_code, sum(exports_gbp) AS exports_gbp, sum(imports_gbp) AS imports_gbp FROM trade.goods_by_country GROUP BY country_code ORDER BY 2 DESC",
        "SELECT sector, value_band, count(*) AS wins FROM trade.export_wins GROUP BY sector, value_band ORDER BY sector, value_band",
        "SELECT w.*, c.name FROM trade.export_wins w JOIN reference.countries c ON c.code = w.country_code WHERE w.confirmed_on >= date '2026-01-01'",
    ];
    var log = new RequestLog();
    var script = new LoadScript(log, searches, datasetSlugs, queries, webSockets, meanThink, connect);

    // Every tool user's own sample app (tools access granted as an administrator would), the others the shared
    // visualisation: a tool per user is three processes (the app, its metrics and s3sync sidecars).
    var toolEvery = Math.Max(1, userCount / Math.Max(1, toolUserCount));
    bool HasTool(LoadIdentity user) => user.Index % toolEvery == 0 && user.Index / toolEvery < toolUserCount;
    foreach (var user in identities)
    {
        var portal = portals[user.Index % portals.Count];
        var app = HasTool(user) ? ToolUrl(portal, "sample", user.Id) : new Uri($"http://fta-utilisation.{portal.Host}:{portal.Port}/");
        users.Add(new LoadUser(user, portal, app, script));
    }

    Console.WriteLine($"Signing in {users.Count} users through the OpenID Connect flow (8 at a time) ...");
    var signInClock = System.Diagnostics.Stopwatch.StartNew();
    var signIns = new List<double>();
    var signInFailures = new List<string>();
    await Parallel.ForEachAsync(users, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (user, cancellationToken) =>
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var took = await user.SignInAsync(cancellationToken);
                lock (signIns) signIns.Add(took.TotalMilliseconds);
                return;
            }
            catch (Exception exception) when (exception is HttpRequestException or InvalidOperationException or TaskCanceledException)
            {
                lock (signInFailures) signInFailures.Add($"{user.Identity.Email} (attempt {attempt}): {exception.Message}");
                if (attempt == 2) throw;
            }
        }
    });
    Console.WriteLine($"  {signIns.Count} signed in in {signInClock.Elapsed.TotalSeconds:N1} s; {signInFailures.Count} failed attempts");
    foreach (var failure in signInFailures.Take(5)) Console.WriteLine($"    {failure}");
    await Sql.ScalarAsync<object>(catalogue, """
        INSERT INTO tools_permissions (user_id, source, granted_at, granted_by)
        SELECT id, 'Admin', now(), 'load bench' FROM users WHERE email = ANY($1) ON CONFLICT DO NOTHING
        """, [identities.Where(HasTool).Select(user => user.Email).ToArray()]);

    if (budget is { } total && total - benchClock.Elapsed - afterLoadReserve < loadTime)
    {
        loadTime = total - benchClock.Elapsed - afterLoadReserve;
        Console.WriteLine($"  start and sign-in took {benchClock.Elapsed.TotalSeconds:N0} s: the load is shortened to {loadTime.TotalSeconds:N0} s to stay within the suite's {total.TotalMinutes:0} minutes");
    }

    await using var serviceErrors = new ServiceErrors(platform, ["web", "proxy", "identity"]);
    var memory = new PlatformMemory(platform, catalogue);
    var memoryBefore = await memory.SampleAsync(CancellationToken.None);
    var memorySeries = new Dictionary<string, List<(double X, double Y)>>();
    var memoryPeak = memoryBefore.ToDictionary(group => group.Key, group => group.Value.Megabytes);
    var cpuSeries = new List<(double X, double Y)>();
    Console.WriteLine("Memory before the load: " + string.Join(", ", memoryBefore.Select(group => $"{group.Key} {group.Value.Megabytes:N0} MB")));

    Console.WriteLine($"Loading for {loadTime.TotalMinutes:N1} minutes ...");
    using var stop = new CancellationTokenSource(loadTime);
    log.Start();
    var cpuAtStart = Environment.CpuUsage.TotalTime;
    var running = users.Select(user => Task.Run(() => user.RunAsync(stop.Token))).ToList();
    var sampling = Task.Run(async () =>
    {
        var lastCpu = Environment.CpuUsage.TotalTime;
        var lastAt = 0.0;
        var last = log.Totals;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(5), stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var at = log.MillisecondsNow / 1000.0;
            var cpu = Environment.CpuUsage.TotalTime;
            cpuSeries.Add((at, (cpu - lastCpu).TotalSeconds / (at - lastAt) * 100));
            (lastCpu, lastAt) = (cpu, at);
            foreach (var (group, (megabytes, _)) in await memory.SampleAsync(CancellationToken.None))
            {
                if (!memorySeries.TryGetValue(group, out var points)) memorySeries[group] = points = [];
                points.Add((at, megabytes));
                memoryPeak[group] = Math.Max(memoryPeak.GetValueOrDefault(group), megabytes);
            }

            var now = log.Totals;
            Console.WriteLine($"  {at,5:N0} s: {(now.Requests - last.Requests) / 5.0,6:N1} req/s, {now.ServerErrors - last.ServerErrors} 5xx, {now.Failed - last.Failed} failed; " +
                $"load generator {cpuSeries[^1].Y:N0}% of a core; web {memorySeries.GetValueOrDefault("web")?[^1].Y:N0} MB, proxy {memorySeries.GetValueOrDefault("proxy")?[^1].Y:N0} MB");
            last = now;
        }
    });

    var faultWindows = new List<FaultWindow>();
    Task? faultRun = null;
    if (faults is not null)
    {
        faultRun = Task.Run(async () =>
        {
            await Task.Delay(faultsFrom, stop.Token);
            using var window = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
            window.CancelAfter(faultsUntil - faultsFrom);
            Console.WriteLine($"  {log.MillisecondsNow / 1000.0:N0} s: faults begin");
            faultWindows.AddRange(await faults(platform, window.Token));
        });
    }

    // A request in flight at the stop may take up to the client's timeout; the report does not wait for it all.
    try
    {
        await Task.WhenAll(running).WaitAsync(loadTime + TimeSpan.FromSeconds(30));
    }
    catch (TimeoutException)
    {
        Console.WriteLine($"  {running.Count(task => !task.IsCompleted)} users were still waiting for an answer 30 s after the stop; reporting without them");
    }
    var loadSeconds = log.MillisecondsNow / 1000.0;
    var generatorCpu = (Environment.CpuUsage.TotalTime - cpuAtStart).TotalSeconds / loadSeconds * 100;
    await sampling;
    if (faultRun is not null)
    {
        try
        {
            await faultRun.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (Exception exception) when (exception is OperationCanceledException or TimeoutException)
        {
            Console.WriteLine($"  the faults did not finish with the load: {exception.Message}");
        }
    }

    // What is still held a few seconds after the users have gone.
    await Task.Delay(TimeSpan.FromSeconds(5));
    var memoryAfter = await memory.SampleAsync(CancellationToken.None);

    var report = new LoadReport(Bench, log, faultWindows, loadSeconds);
    report.Print(signIns, signInFailures.Count);
    serviceErrors.Print();
    report.Record(signIns, userCount, generatorCpu, memoryBefore, memoryPeak, memoryAfter, memorySeries, cpuSeries);
}
finally
{
    foreach (var user in users) user.Dispose();
    var stopping = System.Diagnostics.Stopwatch.StartNew();
    await platform.DisposeAsync();
    TestDirectories.Delete(dataDirectory);
    Console.WriteLine($"Stopped the platform in {stopping.Elapsed.TotalSeconds:N1} s; the bench took {benchClock.Elapsed.TotalMinutes:N1} minutes in all; load average {LoadAverage()}");
}

// 2,000 datasets beside the demo catalogue, as CatalogueSearch makes them but fewer: searches that find something,
// and pages to open. Returns every published dataset's slug.
static async Task<List<string>> SeedCatalogueAsync(string catalogue)
{
    await SeededCatalogue.SeedAsync(catalogue, 2_000, "load", ["SourceDataset", "DataCut", "ReferenceDataset"]);
    await using var connection = new Npgsql.NpgsqlConnection(catalogue);
    await connection.OpenAsync();
    await using var command = new Npgsql.NpgsqlCommand("SELECT slug FROM datasets WHERE published AND deleted_at IS NULL", connection);
    await using var reader = await command.ExecuteReaderAsync();
    var slugs = new List<string>();
    while (await reader.ReadAsync()) slugs.Add(reader.GetString(0));
    return slugs;
}

// A user's tool host: <basename>-<the first 8 hex of SHA-256 over the user's id>, under the portal's domain and port.
static Uri ToolUrl(Uri portal, string basename, string userId) =>
    new($"http://{basename}-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(userId)))[..8]}.{portal.Host}:{portal.Port}/");

static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[..3] is var parts ? string.Join(' ', parts) : "";

T Option<T>(string name, T fallback) where T : IParsable<T> =>
    args.SkipWhile(arg => arg != name).Skip(1).FirstOrDefault() is { } value ? T.Parse(value, n) : fallback;
