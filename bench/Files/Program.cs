// bench/Files: "Your files" (the page's own code in headless Chromium) against the aws CLI, both talking to the same
// local S3 emulator. Targets (issue 17): uploads and downloads >= 0.8x the aws CLI's throughput; the first page of a
// 10,000-object folder rendered in under 1 s. Run: dotnet run -c Release --project bench/Files [--large-mb 1024]
// [--only small,large,large-download,listing] [--profile]
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Aspire.Hosting.Testing;
using DataWorkspace.Bench;
using DataWorkspace.TestSupport;
using Microsoft.Playwright;

const string Bench = "Files";
const int SmallFiles = 1_000;
const int SmallSize = 10 * 1024;
const int ListingObjects = 10_000;
// The suite gives this bench 2.5 minutes, start included: a smaller large file, fewer samples of what is not a target.
var suite = BenchResults.InSuite;
var downloadSample = suite ? 10 : 50;
var listingRuns = suite ? 3 : 5;
int[] ceilingParallels = suite ? [12] : [4, 8, 12];
var largeMb = args.SkipWhile(a => a != "--large-mb").Skip(1).Select(int.Parse).DefaultIfEmpty(suite ? 256 : 1024).First();
var benchClock = Stopwatch.StartNew();
void Phase(string text) => Console.WriteLine($"[{benchClock.Elapsed.TotalSeconds,5:N0} s] {text}");
var largeBytes = (long)largeMb << 20;
var only = args.SkipWhile(a => a != "--only").Skip(1).Take(1).SelectMany(a => a.Split(',')).ToHashSet();
bool Measures(string part) => only.Count == 0 || only.Contains(part);
TimeSpan pageSmallUp = default, cliSmallUp = default, pageLargeUp = default, cliLargeUp = default, pageLargeDown = default, cliLargeDown = default, pageSmallDown = default, cliSmallDown = default;
TimeSpan pageListing = default, cliListing = default, ceilingSmallUp = default;
List<(int Parallel, TimeSpan Time)> ceilingLargeUp = [];
List<TimeSpan> pageListings = [], pageWholePages = [], cliListings = [];
List<double[]> listingParts = [];

var dataDirectory = Path.Combine(Path.GetTempPath(), "dw-bench-" + Guid.NewGuid().ToString("N")[..8]);
var work = Directory.CreateDirectory(Path.Combine(dataDirectory, "bench-files")).FullName;
Phase($"Starting the platform (Local mode, data in {dataDirectory}; {(suite ? "suite" : "full")} profile, large file {largeMb:N0} MB) ...");
var platform = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, Ports.Free(), CancellationToken.None, testSettings: false);
IPlaywright? playwright = null;
IBrowser? chromium = null;
try
{
    var emulator = platform.App.GetEndpoint("aws", "http");

    Phase($"Writing {SmallFiles:N0} files of {SmallSize / 1024} KB and one of {largeMb:N0} MB ...");
    var small = Directory.CreateDirectory(Path.Combine(work, "small")).FullName;
    for (var i = 1; i <= SmallFiles; i++) await File.WriteAllBytesAsync(Path.Combine(small, $"file-{i:D4}.bin"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(SmallSize));
    var large = Path.Combine(work, "large.bin");
    if (Measures("large"))
    await using (var file = File.Create(large))
    {
        var block = new byte[1 << 20];
        for (var i = 0; i < largeMb; i++)
        {
            Random.Shared.NextBytes(block);
            await file.WriteAsync(block);
        }
    }

    playwright = await Playwright.CreateAsync();
    chromium = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = "/usr/bin/chromium",
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    var context = await chromium.NewContextAsync(new() { AcceptDownloads = true });
    context.SetDefaultTimeout(30 * 60_000);
    var page = await context.NewPageAsync();
    await page.GotoAsync(platform.PortalUrl.ToString());
    await page.GetByRole(AriaRole.Button, new() { NameRegex = new System.Text.RegularExpressions.Regex("^Tom Evans") }).ClickAsync();
    await page.GetByTestId("welcome").WaitForAsync();
    var roots = await page.EvaluateAsync<JsonElement>("() => fetch('/api/v1/files/roots').then(r => r.json())");
    var bucket = roots.GetProperty("bucket").GetString()!;
    var home = roots.GetProperty("roots").EnumerateArray().First(r => r.GetProperty("kind").GetString() == "home").GetProperty("prefix").GetString()!;
    var (pagePrefix, cliPrefix, listingPrefix) = ($"{home}bench-page/", $"{home}bench-cli/", $"{home}bench-listing/");

    async Task OpenAsync(string prefix)
    {
        await page.GotoAsync($"{platform.PortalUrl}files?prefix={Uri.EscapeDataString(prefix)}");
        await page.WaitForFunctionAsync("() => / folders? and \\d[\\d,]* files?/.test(document.querySelector('[data-testid=files-status]')?.textContent ?? '')");
    }

    async Task<TimeSpan> PageUploadAsync(string picker, string path, int files)
    {
        var clock = Stopwatch.StartNew();
        await page.GetByTestId(picker).SetInputFilesAsync(path);
        var done = $"{files.ToString("N0", CultureInfo.InvariantCulture)} of {files.ToString("N0", CultureInfo.InvariantCulture)} file{(files == 1 ? "" : "s")} uploaded";
        await page.WaitForFunctionAsync("done => document.querySelector('[data-testid=overall-text]')?.textContent?.startsWith(done) && (window.benchDone = performance.now())", done, new() { PollingInterval = 50 });
        var elapsed = clock.Elapsed;
        await page.GetByTestId("clear-finished").ClickAsync();
        return elapsed;
    }

    async Task<TimeSpan> PageDownloadAsync(string key)
    {
        var clock = Stopwatch.StartNew();
        var download = await page.RunAndWaitForDownloadAsync(() =>
            page.Locator($"[data-testid=file-row][data-key=\"{key}\"]").GetByTestId("download").ClickAsync());
        var saved = await download.PathAsync();
        var elapsed = clock.Elapsed;
        var size = new FileInfo(saved).Length;
        await download.DeleteAsync();
        return size == (key.EndsWith("large.bin", StringComparison.Ordinal) ? largeBytes : SmallSize)
            ? elapsed : throw new InvalidOperationException($"the page's download of {key} has {size:N0} bytes");
    }

    async Task<TimeSpan> AwsAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("aws", [.. arguments, "--endpoint-url", emulator.ToString().TrimEnd('/')]) { RedirectStandardError = true, RedirectStandardOutput = true };
        start.Environment["AWS_ACCESS_KEY_ID"] = "test";
        start.Environment["AWS_SECRET_ACCESS_KEY"] = "test";
        start.Environment["AWS_DEFAULT_REGION"] = "eu-west-2";
        start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        var clock = Stopwatch.StartNew();
        using var aws = Process.Start(start) ?? throw new InvalidOperationException("aws did not start");
        var output = aws.StandardOutput.ReadToEndAsync();
        var errors = await aws.StandardError.ReadToEndAsync();
        await aws.WaitForExitAsync();
        var elapsed = clock.Elapsed;
        await output;
        return aws.ExitCode == 0 ? elapsed : throw new InvalidOperationException($"aws {string.Join(' ', arguments)} failed ({aws.ExitCode}): {errors}");
    }

    // The browser's own ceiling: the same S3 requests from the same Chromium and origin, every form and part URL asked
    // of the files API before the clock starts, sent by the simplest loop. What the page takes beyond it is its own.
    async Task<ILocator> CeilingInputAsync(string[] paths)
    {
        await page.EvaluateAsync("() => { document.getElementById('bench-ceiling')?.remove(); const input = Object.assign(document.createElement('input'), { type: 'file', multiple: true, id: 'bench-ceiling' }); document.body.append(input); }");
        var input = page.Locator("#bench-ceiling");
        await input.SetInputFilesAsync(paths);
        return input;
    }

    async Task<TimeSpan> CeilingSmallAsync(string prefix)
    {
        await OpenAsync(prefix);
        await CeilingInputAsync(Directory.GetFiles(small).Order(StringComparer.Ordinal).ToArray());
        var milliseconds = await page.EvaluateAsync<double>("""
            async ({ prefix, perHost }) => {
              const files = [...document.getElementById('bench-ceiling').files];
              const forms = [];
              for (let i = 0; i < files.length; i += 250) {
                const batch = files.slice(i, i + 250);
                const answer = await fetch('/api/v1/files/uploads', { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
                  body: JSON.stringify({ files: batch.map(f => ({ key: prefix + f.name, size: f.size })) }) }).then(r => r.json());
                answer.uploads.forEach((u, j) => forms.push({ file: batch[j], fields: { ...answer.fields, ...u.fields }, urls: answer.urls?.length ? answer.urls : [answer.url] }));
              }
              const hosts = forms[0].urls.length;
              let next = 0;
              const worker = async (host) => {
                while (next < forms.length) {
                  const f = forms[next++];
                  const form = new FormData();
                  for (const [name, value] of Object.entries(f.fields)) form.append(name, value);
                  form.append('file', f.file, f.file.name);
                  const answer = await fetch(f.urls[host % hosts], { method: 'POST', body: form });
                  if (!answer.ok) throw new Error(`S3 answered ${answer.status}: ${await answer.text()}`);
                }
              };
              const start = performance.now();
              await Promise.all(Array.from({ length: perHost * hosts }, (_, i) => worker(i)));
              return performance.now() - start;
            }
            """, new { prefix, perHost = 6 });
        return TimeSpan.FromMilliseconds(milliseconds);
    }

    async Task<TimeSpan> CeilingLargeAsync(string key, int parallel)
    {
        await CeilingInputAsync([large]);
        var milliseconds = await page.EvaluateAsync<double>("""
            async ({ key, parallel }) => {
              const file = document.getElementById('bench-ceiling').files[0];
              const call = (path, body) => fetch('/api/v1/files/' + path, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body) })
                .then(async r => { if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`); return r.json(); });
              const started = await call('multipart', { key, size: file.size });
              const urls = {};
              for (let n = 1; n <= started.partCount; n += 64) {
                const numbers = Array.from({ length: Math.min(64, started.partCount - n + 1) }, (_, i) => n + i);
                Object.assign(urls, (await call('multipart/parts', { key, uploadId: started.uploadId, partNumbers: numbers })).urls);
              }
              const etags = [];
              let next = 1;
              const worker = async () => {
                while (next <= started.partCount) {
                  const n = next++;
                  const body = file.slice((n - 1) * started.partSize, Math.min(file.size, n * started.partSize));
                  const answer = await fetch(urls[n], { method: 'PUT', body });
                  if (!answer.ok) throw new Error(`S3 answered ${answer.status} to part ${n}`);
                  etags.push({ partNumber: n, etag: answer.headers.get('ETag') });
                }
              };
              const start = performance.now();
              await Promise.all(Array.from({ length: parallel }, worker));
              await call('multipart/complete', { key, uploadId: started.uploadId, parts: etags.sort((a, b) => a.partNumber - b.partNumber) });
              return performance.now() - start;
            }
            """, new { key, parallel });
        return TimeSpan.FromMilliseconds(milliseconds);
    }

    var downloads = Directory.CreateDirectory(Path.Combine(work, "downloads")).FullName;
    // Each figure goes to the suite as soon as it is measured: a run stopped at its budget keeps what it has.
    var emulatorNote = "against moto (the S3 emulator) on the same 2 cores";
    var sizeNote = suite ? $"{largeMb:N0} MB in the suite (1,024 MB in the full run)" : $"{largeMb:N0} MB";
    void SmallUploadFigures()
    {
        var (pageUp, cliUp, ceiling) = (SmallFiles / pageSmallUp.TotalSeconds, SmallFiles / cliSmallUp.TotalSeconds, SmallFiles / ceilingSmallUp.TotalSeconds);
        BenchResults.AtLeast(Bench, $"Upload {SmallFiles:N0} x {SmallSize / 1024} KB (the page's folder picker, headless Chromium)", pageUp, "files/s", "aws s3 cp --recursive", cliUp, 0.8,
            $"{pageSmallUp.TotalSeconds:N1} s against {cliSmallUp.TotalSeconds:N1} s; the browser's ceiling {ceiling:N1} files/s ({ceiling / cliUp:N2}x the CLI; the page reaches {pageUp / ceiling:N2} of it); {emulatorNote}");
        BenchResults.Info(Bench, $"Browser ceiling: upload {SmallFiles:N0} x {SmallSize / 1024} KB", ceiling, "files/s", "aws s3 cp --recursive", cliUp,
            "the same POST forms from the same Chromium, all asked for before the clock starts, six at a time to each of the bucket's names");
        BenchResults.Bars(Bench, $"Upload {SmallFiles:N0} x {SmallSize / 1024} KB", "files/s", [("page", pageUp), ("browser ceiling", ceiling), ("aws s3 cp --recursive", cliUp)]);
    }
    void SmallDownloadFigures()
    {
        var (pageDown, cliDown) = (downloadSample / pageSmallDown.TotalSeconds, SmallFiles / cliSmallDown.TotalSeconds);
        BenchResults.Info(Bench, $"Download {SmallSize / 1024} KB files, one at a time with the page's Download button", pageDown, "files/s", "aws s3 cp --recursive", cliDown,
            $"not like for like: the page has no bulk download; {downloadSample} files one after another against all {SmallFiles:N0}");
    }
    void LargeUploadFigures()
    {
        var (pageUp, cliUp) = (largeMb / pageLargeUp.TotalSeconds, largeMb / cliLargeUp.TotalSeconds);
        var best = ceilingLargeUp.MaxBy(c => largeMb / c.Time.TotalSeconds);
        BenchResults.AtLeast(Bench, $"Upload 1 x {largeMb:N0} MB (the page's file picker, multipart)", pageUp, "MB/s", "aws s3 cp", cliUp, 0.8,
            $"{sizeNote}; {pageLargeUp.TotalSeconds:N1} s against {cliLargeUp.TotalSeconds:N1} s; the browser's ceiling {largeMb / best.Time.TotalSeconds:N1} MB/s at {best.Parallel} parts at a time; {emulatorNote}");
        foreach (var (parallel, time) in ceilingLargeUp)
            BenchResults.Info(Bench, $"Browser ceiling: upload 1 x {largeMb:N0} MB, {parallel} parts at a time", largeMb / time.TotalSeconds, "MB/s", "aws s3 cp", cliUp,
                "the same part PUTs from the same Chromium, every part URL asked for before the clock starts");
        BenchResults.Bars(Bench, $"Upload 1 x {largeMb:N0} MB", "MB/s",
            [("page", pageUp), .. ceilingLargeUp.Select(c => ($"browser ceiling, {c.Parallel} parts", largeMb / c.Time.TotalSeconds)), ("aws s3 cp", cliUp)]);
    }
    void LargeDownloadFigures()
    {
        var (pageDl, cliDl) = (largeMb / pageLargeDown.TotalSeconds, largeMb / cliLargeDown.TotalSeconds);
        BenchResults.AtLeast(Bench, $"Download 1 x {largeMb:N0} MB (the page's Download button, presigned GET)", pageDl, "MB/s", "aws s3 cp", cliDl, 0.8,
            $"{sizeNote}; the CLI fetches 8 MB ranges in 10 threads, which the emulator serves slowly: not a ratio to expect against real S3");
        BenchResults.Bars(Bench, $"Download 1 x {largeMb:N0} MB", "MB/s", [("page", pageDl), ("aws s3 cp", cliDl)]);
    }
    void ListingFigures()
    {
        BenchResults.Record(new Figure(Bench, $"First page of a {ListingObjects:N0}-object folder shown (100 rows)", pageListing.TotalMilliseconds, "ms",
            "aws s3api list-objects-v2 (one page of 1,000)", cliListing.TotalMilliseconds, "< 1,000 ms", pageListing < TimeSpan.FromSeconds(1),
            $"navigation to 100 rows drawn, median of {listingRuns} ({string.Join(", ", pageListings.Select(t => t.TotalMilliseconds.ToString("N0", CultureInfo.InvariantCulture)))} ms); all 1,000 rows at {pageWholePages.Order().ElementAt(listingRuns / 2).TotalMilliseconds:N0} ms; the CLI's time is mostly its Python start-up"));
    }
    if (Measures("small"))
    {
        Phase($"Uploading {SmallFiles:N0} files with the page's folder picker ...");
        await OpenAsync(pagePrefix);
        await page.EvaluateAsync("""
            () => {
              performance.setResourceTimingBufferSize(20000);
              performance.clearResourceTimings();
              window.benchPicked = 0;
              document.querySelector('[data-testid=folder-picker]').addEventListener('change', () => window.benchPicked = performance.now(), { capture: true });
              window.benchAsked = performance.now();
            }
            """);
        ICDPSession? profiler = null;
        if (args.Contains("--profile"))
        {
            profiler = await context.NewCDPSessionAsync(page);
            await profiler.SendAsync("Profiler.enable");
            await profiler.SendAsync("Profiler.setSamplingInterval", new Dictionary<string, object> { ["interval"] = 200 });
            await profiler.SendAsync("Profiler.start");
        }
        pageSmallUp = await PageUploadAsync("folder-picker", small, SmallFiles);
        Console.WriteLine($"  {pageSmallUp.TotalSeconds:N1} s");
        if (profiler is not null)
            PrintProfile((await profiler.SendAsync("Profiler.stop"))!.Value.GetProperty("profile"));
        // Where the page's time went: its PUTs to S3 (preflights are not listed) and its calls to the files API.
        var timings = await page.EvaluateAsync<double[]>("""
            port => {
              const entries = performance.getEntriesByType('resource');
              // The emulator under each of its names (the page spreads its uploads over them).
              const puts = entries.filter(e => new URL(e.name).port === port);
              window.benchHosts = [...new Set(puts.map(e => new URL(e.name).host))].map(h => `${h}: ${puts.filter(e => new URL(e.name).host === h).length}`).join(', ');
              const api = entries.filter(e => e.name.includes('/api/v1/files/'));
              const calls = {};
              for (const e of api) { const path = new URL(e.name).pathname; calls[path] = calls[path] ?? [0, 0]; calls[path][0]++; calls[path][1] += e.duration; }
              window.benchCalls = Object.entries(calls).map(([path, [n, ms]]) => `${path}: ${n} taking ${Math.round(ms)} ms`).join(', ');
              const busy = list => {
                const spans = list.map(e => [e.startTime, e.responseEnd]).sort((a, b) => a[0] - b[0]);
                let total = 0, end = -1;
                for (const [from, to] of spans) { if (to > end) { total += to - Math.max(from, end); end = to; } }
                return total;
              };
              const first = Math.min(...puts.map(e => e.startTime), ...api.map(e => e.startTime));
              const firstPut = Math.min(...puts.map(e => e.startTime));
              const lastPut = Math.max(...puts.map(e => e.responseEnd));
              return [puts.length, puts.reduce((s, e) => s + e.duration, 0) / Math.max(1, puts.length), busy(puts), api.length, busy(api), first - window.benchPicked,
                window.benchPicked - window.benchAsked, firstPut - window.benchPicked, window.benchDone - lastPut];
            }
            """, emulator.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Console.WriteLine($"  {timings[0]:N0} requests to S3 of {timings[1]:N1} ms on average, at least one in flight for {timings[2] / 1000:N1} s; " +
            $"{timings[3]:N0} calls to the files API, at least one in flight for {timings[4] / 1000:N1} s; " +
            $"the files reached the page {timings[6] / 1000:N2} s after they were set on the picker, its first request went {timings[5] / 1000:N2} s later and its first to S3 {timings[7] / 1000:N2} s later; " +
            $"{timings[8] / 1000:N2} s from the last answer from S3 to the page saying all were uploaded (seen by polling every 50 ms)");
        Console.WriteLine($"  requests by host name: {await page.EvaluateAsync<string>("window.benchHosts")}");
        Console.WriteLine($"  calls to the files API: {await page.EvaluateAsync<string>("window.benchCalls")}");
        Phase($"Uploading the same with aws s3 cp --recursive ...");
        cliSmallUp = await AwsAsync("s3", "cp", "--recursive", "--quiet", small, $"s3://{bucket}/{cliPrefix}small/");
        Console.WriteLine($"  {cliSmallUp.TotalSeconds:N1} s");
        Phase($"Uploading the same from the same Chromium, every form asked for in advance, six at a time to each of the bucket's names ...");
        ceilingSmallUp = await CeilingSmallAsync($"{home}bench-ceiling/small/");
        Console.WriteLine($"  {ceilingSmallUp.TotalSeconds:N1} s");
        SmallUploadFigures();
    }

    if (Measures("large"))
    {
        Phase($"Uploading {largeMb:N0} MB with the page's file picker ...");
        await OpenAsync(pagePrefix);
        pageLargeUp = await PageUploadAsync("file-picker", large, 1);
        Console.WriteLine($"  {pageLargeUp.TotalSeconds:N1} s");
        Phase($"Uploading the same with aws s3 cp ...");
        cliLargeUp = await AwsAsync("s3", "cp", "--quiet", large, $"s3://{bucket}/{cliPrefix}large.bin");
        Console.WriteLine($"  {cliLargeUp.TotalSeconds:N1} s");
        foreach (var parallel in ceilingParallels)
        {
            Phase($"Uploading the same from the same Chromium, every part URL asked for in advance, {parallel} parts at a time ...");
            ceilingLargeUp.Add((parallel, await CeilingLargeAsync($"{home}bench-ceiling/large-{parallel}.bin", parallel)));
            Console.WriteLine($"  {ceilingLargeUp[^1].Time.TotalSeconds:N1} s");
            // The emulator keeps every object in memory.
            await AwsAsync("s3", "rm", "--quiet", $"s3://{bucket}/{home}bench-ceiling/large-{parallel}.bin");
        }
        LargeUploadFigures();
    }

    if (Measures("large") && Measures("large-download"))
    {
        Phase($"Downloading {largeMb:N0} MB with the page (presigned URL) and with aws s3 cp ...");
        await OpenAsync(pagePrefix);
        pageLargeDown = await PageDownloadAsync(pagePrefix + "large.bin");
        cliLargeDown = await AwsAsync("s3", "cp", "--quiet", $"s3://{bucket}/{cliPrefix}large.bin", Path.Combine(downloads, "large.bin"));
        File.Delete(Path.Combine(downloads, "large.bin"));
        Console.WriteLine($"  {pageLargeDown.TotalSeconds:N1} s and {cliLargeDown.TotalSeconds:N1} s");
        LargeDownloadFigures();
    }

    // The page has no bulk download: each file is its own presigned GET, so a sample shows its rate per file.
    if (Measures("small"))
    {
        Phase($"Downloading {downloadSample} of the small files one by one with the page, all {SmallFiles:N0} with aws s3 cp --recursive ...");
        await OpenAsync(pagePrefix + "small/");
        for (var i = 1; i <= downloadSample; i++) pageSmallDown += await PageDownloadAsync($"{pagePrefix}small/file-{i * (SmallFiles / downloadSample):D4}.bin");
        cliSmallDown = await AwsAsync("s3", "cp", "--recursive", "--quiet", $"s3://{bucket}/{cliPrefix}small/", Path.Combine(downloads, "small"));
        Console.WriteLine($"  {pageSmallDown.TotalSeconds:N1} s and {cliSmallDown.TotalSeconds:N1} s");
        SmallDownloadFigures();
    }

    if (Measures("listing"))
    {
        Phase($"Seeding {ListingObjects:N0} objects straight into the emulator ...");
        using (var http = new HttpClient())
            await Parallel.ForAsync(0, ListingObjects, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, token) =>
            {
                var key = string.Join('/', $"{listingPrefix}object {i:D5}.csv".Split('/').Select(Uri.EscapeDataString));
                using var put = await http.PutAsync(new Uri(emulator, $"{bucket}/{key}"), new ByteArrayContent(new byte[100]), token);
                put.EnsureSuccessStatusCode();
            });
        Phase($"Opening that folder with the page ({listingRuns} times) and listing it with aws s3api list-objects-v2 ...");
        for (var run = 0; run < listingRuns; run++)
        {
            var clock = Stopwatch.StartNew();
            await page.GotoAsync($"{platform.PortalUrl}files?prefix={Uri.EscapeDataString(listingPrefix)}");
            // Shown: the first 100 rows (more than a screen) drawn; then all 1,000 rows of the API's first page.
            await page.WaitForFunctionAsync("() => document.querySelectorAll('[data-testid=listing-body] tr').length >= 100", null, new() { PollingInterval = 10 });
            pageListings.Add(clock.Elapsed);
            await page.WaitForFunctionAsync("() => document.querySelectorAll('[data-testid=listing-body] tr').length >= 1000", null, new() { PollingInterval = 10 });
            pageWholePages.Add(clock.Elapsed);
            // Where the time went, from the browser's own timings: the HTML and script, then the list call itself.
            listingParts.Add(await page.EvaluateAsync<double[]>("""
                () => {
                  const navigation = performance.getEntriesByType('navigation')[0];
                  const list = performance.getEntriesByType('resource').find(e => e.name.includes('/api/v1/files/list'));
                  return [navigation.domContentLoadedEventEnd, list ? list.startTime : 0, list ? list.duration : 0];
                }
                """));
            cliListings.Add(await AwsAsync("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", listingPrefix, "--delimiter", "/", "--max-items", "1000", "--page-size", "1000"));
        }
        pageListing = pageListings.Order().ElementAt(listingRuns / 2);
        cliListing = cliListings.Order().ElementAt(listingRuns / 2);
        ListingFigures();
    }

    var smallMb = SmallFiles * (double)SmallSize / (1 << 20);
    Console.WriteLine();
    Console.WriteLine($"Your files (page in headless Chromium) against the aws CLI {AwsVersion()}, same emulator, 2 shared cores:");
    Console.WriteLine($"| {"Measure",-52} | {"Page",-22} | {"aws CLI",-22} | {"Page / aws",-10} | {"Target",-18} |");
    Console.WriteLine($"|{new string('-', 54)}|{new string('-', 24)}|{new string('-', 24)}|{new string('-', 12)}|{new string('-', 20)}|");
    void Row(string measure, string pageFigure, string cliFigure, double ratio, string target, bool? met) =>
        Console.WriteLine($"| {measure,-52} | {pageFigure,-22} | {cliFigure,-22} | {ratio,10:N2} | {target + met switch { true => " met", false => " NOT met", null => "" },-18} |");
    void Throughput(string measure, double amount, string unit, TimeSpan pageTime, TimeSpan cliTime)
    {
        var (p, c) = (amount / pageTime.TotalSeconds, amount / cliTime.TotalSeconds);
        Row(measure, $"{p:N1} {unit} ({pageTime.TotalSeconds:N1} s)", $"{c:N1} {unit} ({cliTime.TotalSeconds:N1} s)", p / c, ">= 0.8x", p / c >= 0.8);
    }
    if (Measures("small")) Throughput($"Upload {SmallFiles:N0} x {SmallSize / 1024} KB (folder picker / cp --recursive)", SmallFiles, "files/s", pageSmallUp, cliSmallUp);
    if (Measures("large")) Throughput($"Upload 1 x {largeMb:N0} MB (multipart)", largeMb, "MB/s", pageLargeUp, cliLargeUp);
    if (Measures("large") && Measures("large-download")) Throughput($"Download 1 x {largeMb:N0} MB (presigned GET / cp)", largeMb, "MB/s", pageLargeDown, cliLargeDown);
    if (Measures("small") || Measures("large"))
    {
        Console.WriteLine();
        Console.WriteLine("The browser's ceiling: the same uploads from the same Chromium with nothing of the page's own work (forms and part URLs asked for before the clock starts):");
        if (Measures("small"))
            Console.WriteLine($"- {SmallFiles:N0} x {SmallSize / 1024} KB: {SmallFiles / ceilingSmallUp.TotalSeconds:N1} files/s ({ceilingSmallUp.TotalSeconds:N1} s) = {cliSmallUp / ceilingSmallUp:N2}x the aws CLI; the page reaches {ceilingSmallUp / pageSmallUp:N2} of it");
        if (Measures("large"))
            foreach (var (parallel, time) in ceilingLargeUp)
                Console.WriteLine($"- {largeMb:N0} MB, {parallel} parts at a time: {largeMb / time.TotalSeconds:N1} MB/s ({time.TotalSeconds:N1} s) = {cliLargeUp / time:N2}x the aws CLI; the page reaches {time / pageLargeUp:N2} of it");
    }
    var (pageRate, cliRate) = (downloadSample / pageSmallDown.TotalSeconds, SmallFiles / cliSmallDown.TotalSeconds);
    if (Measures("small")) Row($"Download {SmallSize / 1024} KB files (page: {downloadSample}, one at a time)", $"{pageRate:N1} files/s", $"{cliRate:N1} files/s (all {SmallFiles:N0})", pageRate / cliRate, "none (no bulk download)", null);
    if (Measures("listing")) Row($"First page of a {ListingObjects:N0}-object folder shown (100 rows; median of {listingRuns})", $"{pageListing.TotalMilliseconds:N0} ms", $"{cliListing.TotalMilliseconds:N0} ms", cliListing / pageListing, "< 1 s", pageListing < TimeSpan.FromSeconds(1));
    if (Measures("listing")) Console.WriteLine($"(page listing runs: first 100 rows at {string.Join(", ", pageListings.Select(t => $"{t.TotalMilliseconds:N0}"))} ms, all 1,000 rows at {string.Join(", ", pageWholePages.Select(t => $"{t.TotalMilliseconds:N0}"))} ms; aws: {string.Join(", ", cliListings.Select(t => $"{t.TotalMilliseconds:N0}"))} ms, mostly its Python start-up; {smallMb:N1} MB in the small files)");
    if (Measures("listing")) Console.WriteLine($"(page listing, per run: HTML and script ready at {string.Join(", ", listingParts.Select(p => $"{p[0]:N0}"))} ms; the list call started at {string.Join(", ", listingParts.Select(p => $"{p[1]:N0}"))} ms and took {string.Join(", ", listingParts.Select(p => $"{p[2]:N0}"))} ms)");

    await context.CloseAsync();
}
finally
{
    if (chromium is not null) await chromium.DisposeAsync();
    playwright?.Dispose();
    await platform.DisposeAsync();
    TestDirectories.Delete(dataDirectory);
    Phase("Done.");
}

// --profile: where the page's main thread spent the small files' upload, by function (self time), from V8's sampler.
static void PrintProfile(JsonElement profile)
{
    var nodes = profile.GetProperty("nodes").EnumerateArray().ToDictionary(n => n.GetProperty("id").GetInt32(), n => n.GetProperty("callFrame"));
    var samples = profile.GetProperty("samples").EnumerateArray().Select(e => e.GetInt32()).ToArray();
    var deltas = profile.GetProperty("timeDeltas").EnumerateArray().Select(e => e.GetDouble()).ToArray();
    var self = new Dictionary<string, double>();
    for (var i = 0; i < samples.Length; i++)
    {
        var frame = nodes[samples[i]];
        var name = $"{frame.GetProperty("functionName").GetString() switch { "" => "(anonymous)", var n => n }} {Path.GetFileName(frame.GetProperty("url").GetString())}:{frame.GetProperty("lineNumber").GetInt32() + 1}";
        self[name] = self.GetValueOrDefault(name) + (i + 1 < deltas.Length ? deltas[i + 1] : 0) / 1000;
    }
    var total = self.Values.Sum();
    Console.WriteLine($"  main thread, {total:N0} ms sampled; self time:");
    foreach (var (name, ms) in self.OrderByDescending(e => e.Value).Take(15))
        Console.WriteLine($"    {ms,8:N0} ms {100 * ms / total,5:N1}%  {name}");
}

static string AwsVersion()
{
    using var aws = Process.Start(new ProcessStartInfo("aws", ["--version"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
    var text = aws.StandardOutput.ReadToEnd() + aws.StandardError.ReadToEnd();
    aws.WaitForExit();
    return text.Split(' ')[0];
}
