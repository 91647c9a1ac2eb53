// bench/DataAccess: issue 4's two targets, each against psql on the same machine and the same table.
//  1. Table download of 1,000,000 rows x 10 columns through the proxy: at least 0.8x the throughput of
//     `psql -c "\copy ... to stdout csv"`, and the web process's peak memory grows by under 50 MB.
//  2. Data Explorer first page of a query over 10,000,000 rows: within 1.5x of psql's time to its first row.
// Run: dotnet run -c Release --project bench/DataAccess
using System.Diagnostics;
using System.Net.Http.Json;
using Aspire.Hosting.Testing;
using DataWorkspace.TestSupport;
using Npgsql;

const int Rounds = 3;
var dataDirectory = Path.Combine(Path.GetTempPath(), "dw-bench-" + Guid.NewGuid().ToString("N")[..8]);
Console.WriteLine($"Starting the platform (Local mode, data in {dataDirectory}) ...");
var platform = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, Ports.Free(), CancellationToken.None, testSettings: false);
try
{
    var app = platform.App;
    var datasets = (await app.GetConnectionStringAsync("datasets"))!;
    var catalogue = (await app.GetConnectionStringAsync("catalogue"))!;

    Console.WriteLine("Making the tables: bench.wide (1,000,000 rows x 10 columns) and bench.big (10,000,000 rows) ...");
    // Making 11 million rows takes longer than a command's default 30 seconds.
    await Sql.ScalarAsync<object>(new NpgsqlConnectionStringBuilder(datasets) { CommandTimeout = 0 }.ConnectionString, """
        CREATE SCHEMA IF NOT EXISTS bench;
        DROP TABLE IF EXISTS bench.wide, bench.big;
        CREATE TABLE bench.wide AS SELECT n AS id, 'name ' || n AS name, n % 97 AS category, (n * 1.37)::numeric(14,2) AS amount,
          now() - (n || ' seconds')::interval AS recorded_at, n % 2 = 0 AS flag, md5(n::text) AS hash, (n % 1000) / 7.0 AS ratio,
          'GB-' || (n % 50) AS region, repeat('x', n % 20) AS note
          FROM generate_series(1, 1000000) AS n;
        CREATE TABLE bench.big AS SELECT n AS id, 'row ' || n AS label, (n % 1000) * 1.5 AS amount FROM generate_series(1, 10000000) AS n;
        ANALYZE bench.wide; ANALYZE bench.big;
        """);
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
    var web = Process.GetProcesses().Single(process => process.ProcessName.StartsWith("DataWorkspace.W", StringComparison.Ordinal));
    var psql = new NpgsqlConnectionStringBuilder(datasets);

    // 1. Downloads, alternating ours and psql's.
    Console.WriteLine($"Downloading bench.wide {Rounds} times each way, alternating ...");
    var ours = new List<double>();
    var theirs = new List<double>();
    long peakGrowth = 0, bytes = 0;
    await DownloadAsync(); // warm-up: the login, the pools, JIT
    for (var round = 0; round < Rounds; round++)
    {
        var (seconds, size, growth) = await DownloadAsync();
        ours.Add(size / seconds);
        bytes = size;
        peakGrowth = Math.Max(peakGrowth, growth);
        var (psqlSeconds, psqlSize) = await PsqlAsync(@"\copy bench.wide to stdout csv header", untilFirstByte: false);
        theirs.Add(psqlSize / psqlSeconds);
        Console.WriteLine($"  round {round + 1}: portal {size / seconds / 1e6:N1} MB/s ({seconds:N2} s), psql {psqlSize / psqlSeconds / 1e6:N1} MB/s ({psqlSeconds:N2} s), web memory +{growth / 1e6:N1} MB");
    }

    var ratio = Median(ours) / Median(theirs);
    Console.WriteLine($"table download, 1,000,000 rows x 10 columns ({bytes / 1e6:N0} MB of CSV), through the proxy:");
    Console.WriteLine($"  portal {Median(ours) / 1e6:N1} MB/s, psql \\copy {Median(theirs) / 1e6:N1} MB/s: ratio {ratio:N2} (target >= 0.8: {(ratio >= 0.8 ? "met" : "NOT met")})");
    Console.WriteLine($"  web process peak memory growth {peakGrowth / 1e6:N1} MB (target < 50 MB: {(peakGrowth < 50e6 ? "met" : "NOT met")})");

    // 2. The Data Explorer's first page against psql's first row.
    Console.WriteLine($"Running SELECT * FROM bench.big {Rounds} times each way, alternating ...");
    var explorer = new List<double>();
    var psqlFirst = new List<double>();
    for (var round = 0; round < Rounds; round++)
    {
        var started = Stopwatch.GetTimestamp();
        // As the page asks: answer as soon as the first page is stored (the count follows).
        using var response = await client.Http.PostAsJsonAsync("/api/v1/explorer/run", new { sql = "SELECT * FROM bench.big", wait = 600 });
        var result = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (result.GetProperty("status").GetString() != "completed" || result.GetProperty("rows").GetArrayLength() != 1000)
            throw new InvalidOperationException($"The Explorer answered {result}");
        explorer.Add(seconds);
        while (result.GetProperty("total").ValueKind == System.Text.Json.JsonValueKind.Null)
        {
            await Task.Delay(100);
            result = await client.Http.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/v1/explorer/queries/{result.GetProperty("id").GetString()}");
        }

        var counted = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var (psqlSeconds, _) = await PsqlAsync("SELECT * FROM bench.big", untilFirstByte: true);
        psqlFirst.Add(psqlSeconds);
        Console.WriteLine($"  round {round + 1}: Explorer first page {seconds:N2} s (all {result.GetProperty("total").GetInt64():N0} rows stored and counted at {counted:N2} s), psql first row {psqlSeconds:N2} s");
    }

    // For the record, not the target: psql told to fetch through a cursor prints its first rows at once, without
    // storing the result for paging and counting as the Explorer does.
    var (cursorSeconds, _) = await PsqlAsync("SELECT * FROM bench.big", untilFirstByte: true, "FETCH_COUNT=1000");
    Console.WriteLine($"  (psql with FETCH_COUNT=1000, reading through a cursor: first row after {cursorSeconds:N2} s)");

    var firstPageRatio = Median(explorer) / Median(psqlFirst);
    Console.WriteLine("Data Explorer first page, SELECT * over 10,000,000 rows, through the proxy:");
    Console.WriteLine($"  Explorer {Median(explorer):N2} s, psql {Median(psqlFirst):N2} s to its first row: ratio {firstPageRatio:N2} (target <= 1.5: {(firstPageRatio <= 1.5 ? "met" : "NOT met")})");

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
        start.Environment["PGPORT"] = psql.Port.ToString();
        start.Environment["PGUSER"] = psql.Username;
        start.Environment["PGPASSWORD"] = psql.Password;
        start.Environment["PGDATABASE"] = psql.Database;
        var started = Stopwatch.GetTimestamp();
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.BaseStream;
        if (untilFirstByte)
        {
            var one = new byte[1];
            await output.ReadExactlyAsync(one);
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            process.Kill();
            await process.WaitForExitAsync();
            return (seconds, 1);
        }

        var counter = new CountingStream();
        await output.CopyToAsync(counter);
        await process.WaitForExitAsync();
        return (Stopwatch.GetElapsedTime(started).TotalSeconds, counter.Length);
    }
}
finally
{
    await platform.DisposeAsync();
    TestDirectories.Delete(dataDirectory);
}

static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

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
