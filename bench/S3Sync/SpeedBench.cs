using System.Diagnostics;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using DataWorkspace.Bench;
using DataWorkspace.TestSupport;

/// <summary>
/// Issue 18's speed targets. The initial download and upload of many small files, s3sync and `aws s3 sync` taking
/// turns (which goes first alternates by round); each timed from its process's start, s3sync's until its health
/// endpoint says the first sync round succeeded (every file transferred and recorded). Then the time from a local
/// write to the object being in S3, with s3sync at its default settings, polled with HEAD every 10 ms.
/// </summary>
internal static class SpeedBench
{
    private const int FileSize = 10 * 1024;
    private static readonly TimeSpan RoundTimeout = TimeSpan.FromMinutes(10);

    public static async Task RunAsync(Bench bench, int files, int rounds, int samples)
    {
        var source = bench.Folder("source");
        var random = new Random(18);
        var content = new byte[FileSize];
        for (var i = 0; i < files; i++)
        {
            random.NextBytes(content);
            File.WriteAllBytes(Path.Combine(source, $"file-{i:D5}.bin"), content);
        }
        Console.WriteLine($"Putting {files:N0} objects of {FileSize / 1024} KB under download/ ...");
        await Parallel.ForEachAsync(Directory.GetFiles(source), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (path, token) =>
            await bench.S3.PutObjectAsync(new PutObjectRequest { BucketName = bench.Bucket, Key = "download/" + Path.GetFileName(path), FilePath = path }, token));

        // Neither tool's first start from a cold disk cache is counted: each runs once before the rounds.
        await bench.Aws.RunAsync("s3", "ls", $"s3://{bench.Bucket}/download/file-00000.bin");
        await using (var warm = bench.StartSidecar("warm-up/", bench.Folder("warm-up"), "warm-up"))
        {
            await warm.FirstRoundDoneAsync(RoundTimeout);
            await warm.StopAsync();
        }

        var downloads = (S3Sync: new List<TimeSpan>(), Aws: new List<TimeSpan>());
        var uploads = (S3Sync: new List<TimeSpan>(), Aws: new List<TimeSpan>());
        for (var round = 1; round <= rounds; round++)
        {
            var s3syncFirst = round % 2 == 1;
            Console.WriteLine($"Round {round} of {rounds} ({(s3syncFirst ? "s3sync" : "aws")} first; load {Bench.LoadAverage()}):");
            foreach (var s3sync in s3syncFirst ? new[] { true, false } : [false, true])
            {
                var target = bench.Folder($"download-{(s3sync ? "s3sync" : "aws")}-{round}");
                var elapsed = s3sync
                    ? await SidecarRoundAsync(bench, "download/", target, $"download-{round}")
                    : await bench.Aws.RunAsync("s3", "sync", $"s3://{bench.Bucket}/download/", target);
                var count = await bench.VerifyAsync("download/", target);
                (s3sync ? downloads.S3Sync : downloads.Aws).Add(elapsed);
                Console.WriteLine($"  download, {(s3sync ? "s3sync" : "aws   ")}: {elapsed.TotalSeconds:N2} s ({count:N0} files)");
                TestDirectories.Delete(target);
            }
            foreach (var s3sync in s3syncFirst ? new[] { true, false } : [false, true])
            {
                var prefix = $"upload-{(s3sync ? "s3sync" : "aws")}-{round}/";
                var elapsed = s3sync
                    ? await SidecarRoundAsync(bench, prefix, source, $"upload-{round}")
                    : await bench.Aws.RunAsync("s3", "sync", source, $"s3://{bench.Bucket}/{prefix}");
                var count = await bench.VerifyAsync(prefix, source);
                (s3sync ? uploads.S3Sync : uploads.Aws).Add(elapsed);
                Console.WriteLine($"  upload,   {(s3sync ? "s3sync" : "aws   ")}: {elapsed.TotalSeconds:N2} s ({count:N0} files)");
                await bench.DeletePrefixAsync(prefix);
            }
        }

        // Reported at once, so that the suite has them even if the samples below run past its budget.
        var bars = new List<(string, double)>();
        foreach (var (name, direction, times) in new[] { ("initial download", "download", downloads), ("initial upload", "upload", uploads) })
        {
            var (mine, theirs) = (Bench.Median(times.S3Sync), Bench.Median(times.Aws));
            BenchResults.AtLeast("S3Sync", $"{name}, {files:N0} files of {FileSize / 1024} KB", files / mine.TotalSeconds, "files/s", "aws s3 sync", files / theirs.TotalSeconds, 1.0,
                $"{mine.TotalSeconds:N2} s against {theirs.TotalSeconds:N2} s, start-up included; median of {rounds} round(s): {Seconds(times.S3Sync)} against {Seconds(times.Aws)}");
            bars.Add(($"{direction}: s3sync", files / mine.TotalSeconds));
            bars.Add(($"{direction}: aws s3 sync", files / theirs.TotalSeconds));
        }
        BenchResults.Info("S3Sync", "version of the aws CLI", 0, "", note: bench.Aws.Version());
        BenchResults.Bars("S3Sync", $"initial sync of {files:N0} files of {FileSize / 1024} KB", "files/s", bars);

        Console.WriteLine($"A local change reaching S3, {samples} samples (s3sync at its default settings; load {Bench.LoadAverage()}) ...");
        var latencies = await LocalChangeAsync(bench, samples);
        Console.WriteLine($"  {string.Join(", ", latencies.Select(latency => $"{latency.TotalMilliseconds:N0}"))} ms");

        Console.WriteLine();
        Console.WriteLine($"s3sync against {bench.Aws.Version()} (`aws s3 sync`), same moto, {files:N0} files of {FileSize / 1024} KB, median of {rounds} round(s):");
        Bench.Row("Measure", "s3sync", "aws s3 sync", "aws / s3sync", "Target", null);
        Console.WriteLine($"|{new string('-', 60)}|{new string('-', 28)}|{new string('-', 24)}|{new string('-', 14)}|{new string('-', 20)}|{new string('-', 9)}|");
        foreach (var (name, times) in new[] { ("Initial download into an empty folder", downloads), ("Initial upload into an empty prefix", uploads) })
        {
            var (mine, theirs) = (Bench.Median(times.S3Sync), Bench.Median(times.Aws));
            var ratio = theirs / mine;
            Bench.Row(name, $"{mine.TotalSeconds:N2} s ({files / mine.TotalSeconds:N0} files/s)", $"{theirs.TotalSeconds:N2} s ({files / theirs.TotalSeconds:N0} files/s)",
                $"{ratio:N2}x", ">= 1.0x", ratio >= 1.0);
        }
        var (p50, p95, max) = (Bench.Percentile(latencies, 50), Bench.Percentile(latencies, 95), latencies.Max());
        Bench.Row("A local change reaches S3 (p50 / p95 / max)", $"{p50.TotalMilliseconds:N0} / {p95.TotalMilliseconds:N0} / {max.TotalMilliseconds:N0} ms", "-", "-", "within 1 s", max <= TimeSpan.FromSeconds(1));
        Console.WriteLine($"(download runs, s3sync: {Seconds(downloads.S3Sync)}; aws: {Seconds(downloads.Aws)}; upload runs, s3sync: {Seconds(uploads.S3Sync)}; aws: {Seconds(uploads.Aws)})");

        Console.WriteLine();
        BenchResults.Under("S3Sync", $"a local change reaches S3 (slowest of {latencies.Count})", max.TotalMilliseconds, "ms", 1000,
            $"p50 {p50.TotalMilliseconds:N0} ms, p95 {p95.TotalMilliseconds:N0} ms; s3sync at its default settings (debounce 200 ms)");
        BenchResults.Line("S3Sync", "a local change reaching S3", "s3sync", "sample", "ms from the write to the object in S3",
            [.. latencies.Select((latency, i) => ((double)(i + 1), latency.TotalMilliseconds))]);
        BenchResults.Line("S3Sync", "a local change reaching S3", "target (1 s)", "sample", "ms from the write to the object in S3", [(1, 1000), (latencies.Count, 1000)]);
    }

    private static string Seconds(IEnumerable<TimeSpan> times) => string.Join(", ", times.Select(time => $"{time.TotalSeconds:N2}")) + " s";

    /// <summary>A fresh sidecar (no state) on the folder and prefix, from its start until its first round is done; then stopped.</summary>
    private static async Task<TimeSpan> SidecarRoundAsync(Bench bench, string prefix, string local, string stateName)
    {
        await using var sidecar = bench.StartSidecar(prefix, local, stateName);
        var elapsed = await sidecar.FirstRoundDoneAsync(RoundTimeout);
        await sidecar.StopAsync();
        File.Delete(bench.StateFile(stateName));
        return elapsed;
    }

    private static async Task<List<TimeSpan>> LocalChangeAsync(Bench bench, int samples)
    {
        var home = bench.Folder("latency");
        await using var sidecar = bench.StartSidecar("latency/", home, "latency");
        await sidecar.FirstRoundDoneAsync(RoundTimeout);
        var latencies = await ChangesReachS3Async(bench, sidecar, home, "latency/", samples);
        await sidecar.StopAsync();
        return latencies;
    }

    /// <summary>
    /// Writes a 10 KB file (every other sample a new one, otherwise an overwrite of the last) at a random moment between
    /// poll rounds, and times from the write until S3 has the object with the new content (its MD5 as the ETag).
    /// </summary>
    public static async Task<List<TimeSpan>> ChangesReachS3Async(Bench bench, SidecarProcess sidecar, string home, string prefix, int samples)
    {
        var latencies = new List<TimeSpan>();
        var random = new Random(1018);
        var content = new byte[FileSize];
        for (var sample = 0; sample < samples; sample++)
        {
            await Task.Delay(random.Next(300, 1300));
            var name = $"notebook-{sample - sample % 2:D2}.txt";
            random.NextBytes(content);
            var etag = Convert.ToHexStringLower(MD5.HashData(content));
            var clock = Stopwatch.StartNew();
            await File.WriteAllBytesAsync(Path.Combine(home, name), content);
            while (!await HasAsync(bench, prefix + name, etag))
            {
                if (clock.Elapsed > TimeSpan.FromMinutes(2))
                    throw new TimeoutException($"{name} did not reach S3 within two minutes:\n{sidecar.LastLines()}");
                await Task.Delay(10);
            }
            latencies.Add(clock.Elapsed);
        }
        return latencies;
    }

    private static async Task<bool> HasAsync(Bench bench, string key, string etag)
    {
        try
        {
            var head = await bench.S3.GetObjectMetadataAsync(bench.Bucket, key);
            return head.ETag.Trim('"') == etag;
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return false;
        }
    }
}
