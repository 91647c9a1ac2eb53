// bench/CatalogueSearch: the catalogue search page with 10,000 datasets, 16 concurrent signed-in clients through the
// proxy. Target (issue 3): p95 under 50 ms on a 2-core machine. Run: dotnet run -c Release --project bench/CatalogueSearch
using System.Diagnostics;
using Aspire.Hosting.Testing;
using DataWorkspace.TestSupport;

const int Datasets = 10_000;
const int Concurrency = 16;
var warmUp = TimeSpan.FromSeconds(10);
var measure = TimeSpan.FromSeconds(30);
string[] words = ["trade", "exports", "investment", "companies", "regional", "tariff", "services", "goods", "survey", "ports", "energy", "wins"];

var dataDirectory = Path.Combine(Path.GetTempPath(), "dw-bench-" + Guid.NewGuid().ToString("N")[..8]);
var port = Ports.Free();
Console.WriteLine($"Starting the platform (Local mode, data in {dataDirectory}) ...");
var platform = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, port, CancellationToken.None, testSettings: false);
try
{
    var app = platform.App;

    Console.WriteLine($"Seeding {Datasets:N0} datasets ...");
    var catalogue = (await app.GetConnectionStringAsync("catalogue"))!;
    await Sql.ScalarAsync<object>(catalogue, $"""
        INSERT INTO tags (id, type, name) SELECT gen_random_uuid(), 'Topic', 'Bench topic ' || i FROM generate_series(1, 20) i ON CONFLICT DO NOTHING;
        WITH words(w) AS (SELECT unnest(ARRAY['{string.Join("','", words)}']))
        INSERT INTO datasets (id, type, name, slug, short_description, description, publisher, licence, retention, classification,
          information_asset_owner, information_asset_manager, editors, access_type, authorized_email_domains, eligibility_criteria,
          published, published_at, created_at, updated_at)
        SELECT gen_random_uuid(),
          (ARRAY['SourceDataset','DataCut','ReferenceDataset','Visualisation'])[1 + i % 4],
          initcap((SELECT w FROM words OFFSET i % 12 LIMIT 1)) || ' ' || (SELECT w FROM words OFFSET (i * 7) % 12 LIMIT 1) || ' dataset ' || i,
          'bench-' || i,
          'Figures on ' || (SELECT w FROM words OFFSET (i * 5) % 12 LIMIT 1) || ' and ' || (SELECT w FROM words OFFSET (i * 3) % 12 LIMIT 1),
          repeat('A longer description of the data, its sources, caveats and methods. ', 8),
          'Publisher ' || (i % 25), 'Open Government Licence', '', 'Official', '', '', ARRAY[]::text[],
          (ARRAY['Open','RequiresAuthentication','RequiresAuthorization'])[1 + i % 3], ARRAY['trade.example'], ARRAY[]::text[],
          true, now() - (i || ' minutes')::interval, now(), now()
        FROM generate_series(1, {Datasets}) i;
        INSERT INTO dataset_tags (datasets_id, tags_id)
        SELECT d.id, t.id FROM datasets d JOIN tags t ON t.name = 'Bench topic ' || (1 + abs(hashtext(d.slug)) % 20) WHERE d.slug LIKE 'bench-%';
        ANALYZE;
        """);

    using var client = platform.Client();
    await client.SignInAsync("tom.evans@partner.example");
    string[] paths =
    [
        .. words.Select(w => $"/datasets?q={w}"),
        .. words.Select(w => $"/datasets?q={w}&access=true&type=SourceDataset"),
        "/datasets", "/datasets?page=50", "/datasets?topic=Bench+topic+3&sort=Newest", "/datasets?publisher=Publisher+7",
    ];

    async Task<List<double>> RunAsync(TimeSpan duration, string[]? only = null)
    {
        var latencies = new List<double>[Concurrency];
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async worker =>
        {
            latencies[worker] = [];
            var random = new Random(worker);
            while (Stopwatch.GetTimestamp() < until)
            {
                var started = Stopwatch.GetTimestamp();
                var targets = only ?? paths;
                using var response = await client.Http.GetAsync(targets[random.Next(targets.Length)]);
                await response.Content.CopyToAsync(Stream.Null);
                if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{response.RequestMessage!.RequestUri} answered {(int)response.StatusCode}");
                latencies[worker].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }));
        return [.. latencies.SelectMany(l => l).Order()];
    }

    Console.WriteLine($"Warming up for {warmUp.TotalSeconds:0} s ...");
    await RunAsync(warmUp);
    Console.WriteLine($"Measuring for {measure.TotalSeconds:0} s with {Concurrency} concurrent clients ...");
    using var metricsClient = new HttpClient();
    var services = new[] { "web", "proxy" };
    var before = await Task.WhenAll(services.Select(service => RuntimeFiguresAsync(service)));
    var all = await RunAsync(measure);
    var after = await Task.WhenAll(services.Select(service => RuntimeFiguresAsync(service)));
    static double Percentile(List<double> sorted, double p) => sorted[(int)Math.Min(sorted.Count - 1, Math.Ceiling(p * sorted.Count) - 1)];
    var p95 = Percentile(all, 0.95);
    Console.WriteLine($"catalogue search, {Datasets:N0} datasets, concurrency {Concurrency}, through the proxy:");
    Console.WriteLine($"  requests {all.Count:N0}  ({all.Count / measure.TotalSeconds:N0}/s)  p50 {Percentile(all, 0.50):N1} ms  p95 {p95:N1} ms  p99 {Percentile(all, 0.99):N1} ms");
    Console.WriteLine($"  target p95 < 50 ms: {(p95 < 50 ? "met" : "NOT met")} (ratio to target {p95 / 50:N2})");
    for (var i = 0; i < services.Length; i++)
    {
        var (cpu, allocated, collections, paused) = (after[i].Cpu - before[i].Cpu, after[i].Allocated - before[i].Allocated,
            after[i].Collections - before[i].Collections, after[i].Paused - before[i].Paused);
        Console.WriteLine($"  {services[i]}: CPU {cpu * 1000 / all.Count:N2} ms, allocated {allocated / 1024 / all.Count:N0} KB a request; " +
            $"{collections / measure.TotalSeconds:N1} GCs/s, paused {paused / measure.TotalSeconds * 100:N1}% of the time");
    }

    // The floor: the portal's home page (proxy, signed identity, web, one cached user lookup) under the same load.
    Console.WriteLine($"Measuring the home page for comparison ({measure.TotalSeconds:0} s) ...");
    var home = await RunAsync(measure, ["/"]);
    Console.WriteLine($"  home page: requests {home.Count:N0}  ({home.Count / measure.TotalSeconds:N0}/s)  p50 {Percentile(home, 0.50):N1} ms  p95 {Percentile(home, 0.95):N1} ms");
    Console.WriteLine($"  search p95 / home p95: {p95 / Percentile(home, 0.95):N2}");

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
}
