// bench/DataAccess: issue 4's two targets, each against psql on the same machine and the same table, in the same run.
//  1. Table download of 1,000,000 rows x 10 columns through the proxy: at least 0.8x the throughput of
//     `psql -c "\copy ... to stdout csv"`, and the web process's peak memory grows by under 50 MB.
//  2. Data Explorer first page of SELECT * over 10,000,000 rows (1,000,000 in the suite): within 1.5x of the time psql
//     with a cursor (FETCH_COUNT=1000) takes to its first row. Plain psql (which reads every row first) is kept for the record.
// Run: dotnet run -c Release --project bench/DataAccess [--rounds N] [--big-rows N]
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting.Testing;
using DataWorkspace.Bench;
using DataWorkspace.TestSupport;
using Npgsql;

const string Bench = "DataAccess";
const int WideRows = 1_000_000;
var suite = BenchResults.InSuite;
var rounds = Option("--rounds") ?? (suite ? 3 : 5);
var bigRows = Option("--big-rows") ?? (suite ? 1_000_000 : 10_000_000);
var n = CultureInfo.InvariantCulture;
var clock = Stopwatch.StartNew();
void Phase(string text) => Console.WriteLine($"[{clock.Elapsed.TotalSeconds,5:N0} s] {text}");

var dataDirectory = Path.Combine(Path.GetTempPath(), "dw-bench-" + Guid.NewGuid().ToString("N")[..8]);
Phase($"Starting the platform (Local mode, data in {dataDirectory}; {(suite ? "suite" : "full")} profile: {rounds} rounds, {bigRows:N0} rows for the Explorer) ...");
var platform = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, Ports.Free(), CancellationToken.None, testSettings: false);
try
{
    var app = platform.App;
    var datasets = (await app.GetConnectionStringAsync("datasets"))!;
    var catalogue = (await app.GetConnectionStringAsync("catalogue"))!;

    Phase($"Making the tables: bench.wide ({WideRows:N0} rows x 10 columns) and bench.big ({bigRows:N0} rows), side by side ...");
    // Unlogged, each made by one statement from generate_series, the two at once on two connections: nothing here needs
    // to survive a crash, and the write-ahead log would double the work. A command's default 30 seconds is too short.
    var admin = new NpgsqlConnectionStringBuilder(datasets) { CommandTimeout = 0 }.ConnectionString;
    await Sql.ScalarAsync<object>(admin, "CREATE SCHEMA IF NOT EXISTS bench; DROP TABLE IF EXISTS bench.wide, bench.big;");
    await Task.WhenAll(
        Sql.ScalarAsync<object>(admin, $"""
            CREATE UNLOGGED TABLE bench.wide AS SELECT n AS id, 'name ' || n AS name, n % 97 AS category, (n * 1.37)::numeric(14,2) AS amount,
              now() - make_interval(secs => n) AS recorded_at, n % 2 = 0 AS flag, md5(n::text) AS hash, (n % 1000) / 7.0 AS ratio,
              'GB-' || (n % 50) AS region, repeat('x', n % 20) AS note
              FROM generate_series(1, {WideRows}) AS n;
            ANALYZE bench.wide;
            """),
        Sql.ScalarAsync<object>(admin, $"""
            CREATE UNLOGGED TABLE bench.big AS SELECT n AS id, 'row ' || n AS label, (n % 1000) * 1.5 AS amount FROM generate_series(1, {bigRows}) AS n;
            ANALYZE bench.big;
            """));
    foreach (var table in new[] { "wide", "big" })
        await Sql.ScalarAsync<object>(catalogue, """
            WITH d AS (
              INSERT INTO datasets (id, type, name, slug, short_description, description, publisher, licence, retention, classification,
                information_asset_owner, information_asset_manager, editors, access_type, authorized_email_domains, eligibility_criteria,
                published, published_at, created_at, updated_at)
              VALUES (gen_random_uuid(), 'SourceDataset', 'Bench ' || $1, 'bench-' || $1, '', '', 'Bench', '', '', 'Official', '', '', ARRAY[]::text[],
                'Open', ARRAY[]::text[], ARRAY[]::text[], true, now(), now(), now())
              RETURNING id)
            INSERT INTO source_tables (id, dataset_id, name, schema, "table", is_view) SELECT gen_random_uuid(), id, $1, 'bench', $1, false FROM d
            """, table);

    using var client = platform.Client();
    client.Http.Timeout = TimeSpan.FromMinutes(10);
    await client.SignInAsync("tom.evans@partner.example");
    // The web app this platform started, by the id the orchestrator gives: another platform may run one of the same name.
    using var web = Process.GetProcessById(platform.ProcessId("web"));
    Console.WriteLine($"  the web app is pid {web.Id} ({web.ProcessName})");
    var psql = new NpgsqlConnectionStringBuilder(datasets);
    // Where a download's CPU goes: the machine's busy time and this platform's processes in it (PostgreSQL is its server and backends).
    var proxyPid = platform.ProcessId("proxy");
    var postgresPid = platform.ReportedProcessId("postgres") ?? 0;
    CpuSplit CpuNow() => new(ProcessFacts.MachineBusySeconds(), ProcessFacts.CpuSeconds(ProcessFacts.Tree(web.Id)), ProcessFacts.CpuSeconds(proxyPid),
        ProcessFacts.CpuSeconds(ProcessFacts.Tree(postgresPid)));
    var portalCpu = new List<CpuSplit>();
    var psqlCpu = new List<CpuSplit>();

    // 1. Downloads, alternating the portal's and psql's (the first of each pair swaps every round).
    Phase($"Downloading bench.wide {rounds} times each way, alternating ...");
    var portalRates = new List<double>();
    var psqlRates = new List<double>();
    long peakGrowth = 0, bytes = 0;
    await DownloadAsync(); // warm-up: the login, the pools, JIT
    for (var round = 0; round < rounds; round++)
    {
        double portalRate = 0, psqlRate = 0, growth = 0, portalSeconds = 0, psqlSeconds = 0;
        async Task Portal()
        {
            var before = CpuNow();
            var (seconds, size, grew) = await DownloadAsync();
            portalCpu.Add(CpuNow() - before);
            (portalRate, portalSeconds, growth, bytes) = (size / seconds, seconds, grew, size);
        }
        async Task Psql()
        {
            var before = CpuNow();
            var (seconds, size) = await PsqlAsync(@"\copy bench.wide to stdout csv header", untilFirstByte: false);
            psqlCpu.Add(CpuNow() - before);
            (psqlRate, psqlSeconds) = (size / seconds, seconds);
        }
        if (round % 2 == 0) { await Portal(); await Psql(); } else { await Psql(); await Portal(); }
        portalRates.Add(portalRate);
        psqlRates.Add(psqlRate);
        peakGrowth = Math.Max(peakGrowth, (long)growth);
        Console.WriteLine($"  round {round + 1}: portal {portalRate / 1e6:N1} MB/s ({portalSeconds:N2} s), psql {psqlRate / 1e6:N1} MB/s ({psqlSeconds:N2} s), web memory +{growth / 1e6:N1} MB");
        Console.WriteLine($"    CPU seconds, portal: {portalCpu[^1]}; psql: {psqlCpu[^1]}");
    }

    // Each figure goes to the suite as soon as it is measured: a run stopped at its budget keeps what it has.
    BenchResults.AtLeast(Bench, $"Table download, {WideRows:N0} rows x 10 columns as CSV through the proxy", Median(portalRates) / 1e6, "MB/s",
        @"psql \copy ... to stdout csv", Median(psqlRates) / 1e6, 0.8,
        $"{bytes / 1e6:N0} MB; portal: {Spread(portalRates.Select(r => r / 1e6).ToList(), "0.0")} MB/s; psql: {Spread(psqlRates.Select(r => r / 1e6).ToList(), "0.0")} MB/s; alternating");
    BenchResults.Under(Bench, "Web app memory growth during a download", peakGrowth / 1e6, "MB", 50,
        $"peak working set over the start of each download, sampled every 10 ms; largest of {rounds}");
    BenchResults.Bars(Bench, "Table download throughput", "MB/s", [("portal (through the proxy)", Median(portalRates) / 1e6), (@"psql \copy", Median(psqlRates) / 1e6)]);
    var (portalMachine, psqlMachine) = (Median(portalCpu.ConvertAll(c => c.Machine)), Median(psqlCpu.ConvertAll(c => c.Machine)));
    BenchResults.Info(Bench, "CPU seconds of the whole machine a download", portalMachine, "s", @"psql \copy", psqlMachine,
        $"portal: web {Median(portalCpu.ConvertAll(c => c.Web)):N2} s, proxy {Median(portalCpu.ConvertAll(c => c.Proxy)):N2} s, PostgreSQL {Median(portalCpu.ConvertAll(c => c.Postgres)):N2} s, " +
        $"the rest (the client, the OS) {Median(portalCpu.ConvertAll(c => c.Rest)):N2} s; psql: PostgreSQL {Median(psqlCpu.ConvertAll(c => c.Postgres)):N2} s, the rest (psql, the OS) {Median(psqlCpu.ConvertAll(c => c.Rest)):N2} s; medians");

    // 2. The Data Explorer's first page against psql's first row through a cursor, interleaved; plain psql for the record.
    Phase($"Running SELECT * FROM bench.big {rounds} times each way, interleaved ...");
    var explorer = new List<double>();
    var cursor = new List<double>();
    var plain = new List<double>();
    var counted = new List<double>();
    for (var round = -1; round < rounds; round++)
    {
        double explorerSeconds = 0, countedSeconds = 0, cursorSeconds = 0;
        async Task Explorer()
        {
            var started = Stopwatch.GetTimestamp();
            // As the page asks: answer as soon as the first page is stored (the count follows).
            using var response = await client.Http.PostAsJsonAsync("/api/v1/explorer/run", new { sql = "SELECT * FROM bench.big", wait = 600 });
            var result = await response.Content.ReadFromJsonAsync<JsonElement>();
            explorerSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (result.GetProperty("status").GetString() != "completed" || result.GetProperty("rows").GetArrayLength() != 1000)
                throw new InvalidOperationException($"The Explorer answered {result}");
            // The Explorer goes on storing every row for paging; the next measurement waits until it is done.
            while (result.GetProperty("total").ValueKind == JsonValueKind.Null)
                result = await client.Http.GetFromJsonAsync<JsonElement>($"/api/v1/explorer/queries/{result.GetProperty("id").GetString()}?wait=1");
            countedSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (result.GetProperty("total").GetInt64() != bigRows)
                throw new InvalidOperationException($"The Explorer counted {result.GetProperty("total")} rows, not {bigRows:N0}");
        }
        async Task Cursor() => cursorSeconds = (await PsqlAsync("SELECT * FROM bench.big", untilFirstByte: true, "FETCH_COUNT=1000")).Seconds;
        if (round < 0)
        {
            // Warm-up, as for the downloads: the Explorer's first query (the JIT, the pools).
            await Explorer();
            Console.WriteLine($"  warm-up: Explorer first page {explorerSeconds * 1000:N0} ms");
            continue;
        }
        if (round % 2 == 0) { await Explorer(); await Cursor(); } else { await Cursor(); await Explorer(); }
        explorer.Add(explorerSeconds * 1000);
        counted.Add(countedSeconds);
        cursor.Add(cursorSeconds * 1000);
        var plainText = "";
        // Plain psql reads every row before printing one: once in the suite, every round otherwise.
        if (!suite || round == 0)
        {
            plain.Add((await PsqlAsync("SELECT * FROM bench.big", untilFirstByte: true)).Seconds * 1000);
            plainText = $", plain psql first row {plain[^1]:N0} ms";
        }
        Console.WriteLine($"  round {round + 1}: Explorer first page {explorerSeconds * 1000:N0} ms (all {bigRows:N0} rows stored and counted at {countedSeconds:N1} s), psql with a cursor first row {cursorSeconds * 1000:N0} ms{plainText}");
    }

    BenchResults.AtMost(Bench, $"Data Explorer first page (1,000 rows of SELECT * over {bigRows:N0} rows)", Median(explorer), "ms",
        "psql with a cursor (FETCH_COUNT=1000), first row", Median(cursor), 1.5,
        $"POST /api/v1/explorer/run through the proxy to the response with the first 1,000 rows; Explorer {Spread(explorer, "0")} ms; psql {Spread(cursor, "0")} ms; interleaved"
        + (suite ? $"; suite profile: {bigRows:N0} rows (the full run uses 10,000,000)" : ""));
    BenchResults.Info(Bench, $"Plain psql, first row of SELECT * over {bigRows:N0} rows", Median(plain), "ms", "Data Explorer first page", Median(explorer),
        $"psql without a cursor reads the whole result before printing; {Spread(plain, "0")} ms");
    BenchResults.Info(Bench, $"Data Explorer, all {bigRows:N0} rows stored and counted", Median(counted), "s",
        note: $"after the first page, the Explorer stores every row for paging and counts them; {Spread(counted, "0.0")} s");
    BenchResults.Bars(Bench, "Time to the first rows", "ms", [("Data Explorer first page", Median(explorer)), ("psql with a cursor", Median(cursor)), ("plain psql", Median(plain))]);
    BenchResults.Line(Bench, "Time to the first rows, by sample", "Data Explorer first page", "sample", "ms", [.. explorer.Select((v, i) => ((double)i + 1, v))]);
    BenchResults.Line(Bench, "Time to the first rows, by sample", "psql with a cursor", "sample", "ms", [.. cursor.Select((v, i) => ((double)i + 1, v))]);

    async Task<(double Seconds, long Bytes, long MemoryGrowth)> DownloadAsync()
    {
        web.Refresh();
        var baseline = web.WorkingSet64;
        var peak = baseline;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                web.Refresh();
                peak = Math.Max(peak, web.WorkingSet64);
                await Task.Delay(10);
            }
        });
        var started = Stopwatch.GetTimestamp();
        using var response = await client.Http.GetAsync("/datasets/bench-wide/tables/wide/download", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        var counter = new CountingStream();
        await (await response.Content.ReadAsStreamAsync()).CopyToAsync(counter);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        sampling.Cancel();
        await sampler;
        return (seconds, counter.Length, peak - baseline);
    }

    async Task<(double Seconds, long Bytes)> PsqlAsync(string command, bool untilFirstByte, string? variable = null)
    {
        var start = new ProcessStartInfo("psql", ["-X", "-q", .. variable is null ? Array.Empty<string>() : ["--variable=" + variable], "-c", command])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.Environment["PGHOST"] = psql.Host;
        start.Environment["PGPORT"] = psql.Port.ToString(n);
        start.Environment["PGUSER"] = psql.Username;
        start.Environment["PGPASSWORD"] = psql.Password;
        start.Environment["PGDATABASE"] = psql.Database;
        var started = Stopwatch.GetTimestamp();
        using var process = Process.Start(start)!;
        try
        {
            var output = process.StandardOutput.BaseStream;
            if (untilFirstByte)
            {
                var one = new byte[1];
                await output.ReadExactlyAsync(one);
                return (Stopwatch.GetElapsedTime(started).TotalSeconds, 1);
            }

            var counter = new CountingStream();
            await output.CopyToAsync(counter);
            await process.WaitForExitAsync();
            return (Stopwatch.GetElapsedTime(started).TotalSeconds, counter.Length);
        }
        finally
        {
            // The psql this bench started, by its own handle; it has read what was measured.
            if (!process.HasExited) process.Kill();
            await process.WaitForExitAsync();
        }
    }
}
finally
{
    await platform.DisposeAsync();
    TestDirectories.Delete(dataDirectory);
    Phase("Done.");
}

int? Option(string name) => args.SkipWhile(a => a != name).Skip(1).Select(a => (int?)int.Parse(a, CultureInfo.InvariantCulture)).FirstOrDefault();

static string Spread(List<double> values, string format) =>
    $"median of {values.Count}, {values.Min().ToString(format, CultureInfo.InvariantCulture)}-{values.Max().ToString(format, CultureInfo.InvariantCulture)}";

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}

/// <summary>A sink that counts what is written to it.</summary>
sealed class CountingStream : Stream
{
    private long length;
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => length;
    public override long Position { get => length; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => length += count;
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        length += buffer.Length;
        return ValueTask.CompletedTask;
    }
}

/// <summary>CPU seconds spent over a span: by the whole machine (every core's busy time), and by the platform's processes in it.</summary>
internal sealed record CpuSplit(double Machine, double Web, double Proxy, double Postgres)
{
    public double Rest => Machine - Web - Proxy - Postgres;

    public static CpuSplit operator -(CpuSplit after, CpuSplit before) =>
        new(after.Machine - before.Machine, after.Web - before.Web, after.Proxy - before.Proxy, after.Postgres - before.Postgres);

    public override string ToString() =>
        $"machine {Machine:N2} (web {Web:N2}, proxy {Proxy:N2}, PostgreSQL {Postgres:N2}, the rest {Rest:N2})";
}
