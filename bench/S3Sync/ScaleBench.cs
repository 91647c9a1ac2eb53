using System.Diagnostics;
using System.Security.Cryptography;
using DataWorkspace.TestSupport;

/// <summary>
/// Issue 18's "bad input" at scale: a folder of 100,000 files (the first upload, a poll round over them at rest, a
/// burst of 10,000 more written while it runs, a restart) and a 5 GB file up and back down into an empty folder,
/// each checked object by object or by SHA-256, with s3sync's and moto's memory.
/// </summary>
internal static class ScaleBench
{
    private const int SmallSize = 1024;
    private const int Burst = 10_000;
    private static readonly TimeSpan Timeout = TimeSpan.FromHours(2);

    // Below this much free memory the bench stops moto rather than let the machine, shared with others, run out.
    private const long MemoryFloor = 2L * 1024 * 1024 * 1024;

    public static async Task RunAsync(Bench bench, int many, int largeGb, bool largePeer)
    {
        if (many > 0)
            await ManyFilesAsync(bench, many);
        if (largeGb > 0)
            await LargeFileAsync(bench, largeGb, largePeer);
    }

    private static async Task ManyFilesAsync(Bench bench, int many)
    {
        const string Prefix = "many-home/";
        var home = bench.Folder("many-home");
        var folder = Directory.CreateDirectory(Path.Combine(home, "many")).FullName;
        var clock = Stopwatch.StartNew();
        WriteSmallFiles(folder, "f", many);
        Console.WriteLine($"A folder of {many:N0} files of {SmallSize / 1024} KB: written in {clock.Elapsed.TotalSeconds:N1} s (load {Bench.LoadAverage()}); s3sync uploads it ...");

        await using var watch = new MemoryWatch(bench.Moto.ProcessId);
        var sidecar = bench.StartSidecar(Prefix, home, "many");
        try
        {
            var lastReport = TimeSpan.Zero;
            var first = await sidecar.FirstRoundDoneAsync(Timeout, () =>
            {
                watch.ThrowIfLow(sidecar);
                if (sidecar.Clock.Elapsed - lastReport > TimeSpan.FromSeconds(30))
                {
                    lastReport = sidecar.Clock.Elapsed;
                    Console.WriteLine($"  {lastReport.TotalSeconds:N0} s: {sidecar.Uploads:N0} uploaded, s3sync at {Bench.Megabytes(sidecar.Memory().Now)}, moto at {Bench.Megabytes(watch.MotoNow)}");
                }
            });
            var count = await bench.VerifyAsync(Prefix, home);
            var (_, peak) = sidecar.Memory();
            Console.WriteLine($"  first round: {first.TotalSeconds:N1} s ({many / first.TotalSeconds:N0} files/s); every one of the {count:N0} files is in S3 with its size; "
                + $"s3sync peak RSS {Bench.Megabytes(peak)}; moto peak {Bench.Megabytes(watch.MotoPeak)}; state file {Bench.Megabytes(new FileInfo(bench.StateFile("many")).Length)}");

            // At rest: what each poll round (a listing of the prefix and a walk of the folder) costs.
            var (cpuBefore, motoBefore) = (sidecar.CpuTime(), SidecarProcess.ProcessCpuTime(bench.Moto.ProcessId));
            await Task.Delay(TimeSpan.FromSeconds(30));
            var (cpu, motoCpu) = (sidecar.CpuTime() - cpuBefore, SidecarProcess.ProcessCpuTime(bench.Moto.ProcessId) - motoBefore);
            Console.WriteLine($"  at rest for 30 s (3 poll rounds): s3sync used {cpu.TotalSeconds:N1} s of CPU, moto {motoCpu.TotalSeconds:N1} s; s3sync RSS now {Bench.Megabytes(sidecar.Memory().Now)}");

            try
            {
                var latencies = await SpeedBench.ChangesReachS3Async(bench, sidecar, home, Prefix, 10);
                Console.WriteLine($"  a local change reaching S3 with {many:N0} files in the folder (10 samples): p50 {Bench.Percentile(latencies, 50).TotalMilliseconds:N0} ms, "
                    + $"max {latencies.Max().TotalMilliseconds:N0} ms ({string.Join(", ", latencies.Select(latency => $"{latency.TotalMilliseconds:N0}"))} ms)");
            }
            catch (TimeoutException exception)
            {
                // Local changes wait while a full round lists the prefix: reported, and the other cases still run.
                Console.WriteLine($"  a local change reaching S3 with {many:N0} files in the folder: NOT within two minutes ({exception.Message.Split('\n')[0]})");
            }

            // A burst written while it runs: more events than the watcher's buffer holds at once.
            var uploadsBefore = sidecar.Uploads;
            clock.Restart();
            WriteSmallFiles(folder, "g", Burst);
            var written = clock.Elapsed;
            while (sidecar.Uploads - uploadsBefore < Burst)
            {
                watch.ThrowIfLow(sidecar);
                if (clock.Elapsed > Timeout)
                    throw new TimeoutException($"the burst of {Burst:N0} files did not reach S3: {sidecar.Uploads - uploadsBefore:N0} uploaded\n{sidecar.LastLines()}");
                await Task.Delay(100);
            }
            var burst = clock.Elapsed;
            count = await bench.VerifyAsync(Prefix, home);
            Console.WriteLine($"  a burst of {Burst:N0} more files written in {written.TotalSeconds:N1} s while it ran: all in S3 {burst.TotalSeconds:N1} s after the first was written "
                + $"({Burst / burst.TotalSeconds:N0} files/s); watcher overflows logged: {sidecar.WatcherOverflows}; {count:N0} files checked; s3sync peak RSS {Bench.Megabytes(sidecar.Memory().Peak)}");

            Console.WriteLine($"  stopping (SIGTERM): exit code {await sidecar.StopAsync()}");
            await sidecar.DisposeAsync();
            sidecar = bench.StartSidecar(Prefix, home, "many");
            var again = await sidecar.FirstRoundDoneAsync(Timeout, () => watch.ThrowIfLow(sidecar));
            Console.WriteLine($"  restarted with its state: first round (nothing to transfer) in {again.TotalSeconds:N1} s; uploaded {sidecar.Uploads}, downloaded {sidecar.Downloads}; "
                + $"peak RSS {Bench.Megabytes(sidecar.Memory().Peak)}");
            await sidecar.StopAsync();
        }
        finally
        {
            await sidecar.DisposeAsync();
        }
        await bench.DeletePrefixAsync(Prefix);
        TestDirectories.Delete(home);
    }

    private static void WriteSmallFiles(string folder, string stem, int count)
    {
        var content = new byte[SmallSize];
        var random = new Random(count);
        for (var i = 0; i < count; i++)
        {
            random.NextBytes(content);
            File.WriteAllBytes(Path.Combine(folder, $"{stem}-{i:D6}.txt"), content);
        }
    }

    private static async Task LargeFileAsync(Bench bench, int gigabytes, bool peer)
    {
        const string Prefix = "large-home/";
        var size = gigabytes * 1024L * 1024 * 1024;
        var up = bench.Folder("large-up");
        var clock = Stopwatch.StartNew();
        var written = WriteRandom(Path.Combine(up, "big.bin"), size);
        Console.WriteLine($"A {gigabytes} GiB file of random bytes written in {clock.Elapsed.TotalSeconds:N1} s (load {Bench.LoadAverage()}, {Bench.Megabytes(Bench.MemoryAvailable())} available); s3sync uploads it ...");
        try
        {
            await using (var watch = new MemoryWatch(bench.Moto.ProcessId))
            await using (var sidecar = bench.StartSidecar(Prefix, up, "large-up"))
            {
                var elapsed = await sidecar.FirstRoundDoneAsync(Timeout, () => watch.ThrowIfLow(sidecar));
                var head = await bench.S3.GetObjectMetadataAsync(bench.Bucket, Prefix + "big.bin");
                var etag = head.ETag.Trim('"');
                var parts = etag.Contains('-') ? etag[(etag.IndexOf('-') + 1)..] : "1 (not multipart)";
                Console.WriteLine($"  up in {elapsed.TotalSeconds:N1} s ({size / 1024.0 / 1024 / elapsed.TotalSeconds:N0} MB/s); object of {head.ContentLength:N0} bytes (file: {size:N0}) in {parts} parts; "
                    + $"s3sync peak RSS {Bench.Megabytes(sidecar.Memory().Peak)}; moto peak {Bench.Megabytes(watch.MotoPeak)}; least memory available {Bench.Megabytes(watch.LeastAvailable)}");
                if (head.ContentLength != size)
                    throw new InvalidOperationException($"the object has {head.ContentLength:N0} bytes, the file {size:N0}");
                await sidecar.StopAsync();
            }

            var down = bench.Folder("large-down");
            await using (var watch = new MemoryWatch(bench.Moto.ProcessId))
            await using (var sidecar = bench.StartSidecar(Prefix, down, "large-down"))
            {
                var elapsed = await sidecar.FirstRoundDoneAsync(Timeout, () => watch.ThrowIfLow(sidecar));
                Console.WriteLine($"  down into an empty folder in {elapsed.TotalSeconds:N1} s ({size / 1024.0 / 1024 / elapsed.TotalSeconds:N0} MB/s); "
                    + $"s3sync peak RSS {Bench.Megabytes(sidecar.Memory().Peak)}; moto peak {Bench.Megabytes(watch.MotoPeak)}; least memory available {Bench.Megabytes(watch.LeastAvailable)}");
                await sidecar.StopAsync();
            }
            clock.Restart();
            byte[] read;
            await using (var stream = File.OpenRead(Path.Combine(down, "big.bin")))
                read = await SHA256.HashDataAsync(stream);
            Console.WriteLine(read.AsSpan().SequenceEqual(written)
                ? $"  the downloaded file's SHA-256 is the original's ({Convert.ToHexStringLower(read)[..16]}...; hashed in {clock.Elapsed.TotalSeconds:N1} s)"
                : throw new InvalidOperationException($"the downloaded file differs: SHA-256 {Convert.ToHexStringLower(read)}, the original {Convert.ToHexStringLower(written)}"));
            TestDirectories.Delete(down);

            if (peer)
            {
                // The same file with `aws s3 cp` (parts of 8 MB, 10 at a time), for the throughput moto allows.
                await bench.DeletePrefixAsync(Prefix);
                await using var watch = new MemoryWatch(bench.Moto.ProcessId);
                var upload = await bench.Aws.RunAsync("s3", "cp", Path.Combine(up, "big.bin"), $"s3://{bench.Bucket}/{Prefix}big.bin");
                var download = await bench.Aws.RunAsync("s3", "cp", $"s3://{bench.Bucket}/{Prefix}big.bin", Path.Combine(bench.Folder("large-down"), "big.bin"));
                Console.WriteLine($"  aws s3 cp: up in {upload.TotalSeconds:N1} s ({size / 1024.0 / 1024 / upload.TotalSeconds:N0} MB/s), down in {download.TotalSeconds:N1} s "
                    + $"({size / 1024.0 / 1024 / download.TotalSeconds:N0} MB/s); moto peak {Bench.Megabytes(watch.MotoPeak)}; least memory available {Bench.Megabytes(watch.LeastAvailable)}");
            }
        }
        finally
        {
            await bench.DeletePrefixAsync(Prefix);
            TestDirectories.Delete(up);
            TestDirectories.Delete(Path.Combine(bench.Work, "large-down"));
        }
    }

    /// <summary>Random bytes into a new file; their SHA-256.</summary>
    private static byte[] WriteRandom(string path, long size)
    {
        var buffer = new byte[16 * 1024 * 1024];
        var random = new Random(5);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        for (long left = size; left > 0;)
        {
            var chunk = (int)Math.Min(buffer.Length, left);
            random.NextBytes(buffer.AsSpan(0, chunk));
            hash.AppendData(buffer, 0, chunk);
            file.Write(buffer, 0, chunk);
            left -= chunk;
        }
        return hash.GetHashAndReset();
    }

    /// <summary>Samples moto's memory and the machine's every 100 ms; says when the machine runs low.</summary>
    private sealed class MemoryWatch : IAsyncDisposable
    {
        private readonly CancellationTokenSource stop = new();
        private readonly Task sampling;
        private long motoNow;
        private long motoPeak;
        private long leastAvailable = long.MaxValue;

        public MemoryWatch(int motoProcessId) => sampling = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var (now, _) = SidecarProcess.ProcessMemory(motoProcessId);
                Interlocked.Exchange(ref motoNow, now);
                if (now > Interlocked.Read(ref motoPeak))
                    Interlocked.Exchange(ref motoPeak, now);
                var available = Bench.MemoryAvailable();
                if (available < Interlocked.Read(ref leastAvailable))
                    Interlocked.Exchange(ref leastAvailable, available);
                try
                {
                    await Task.Delay(100, stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });

        public long MotoNow => Interlocked.Read(ref motoNow);

        public long MotoPeak => Interlocked.Read(ref motoPeak);

        public long LeastAvailable => Interlocked.Read(ref leastAvailable);

        public void ThrowIfLow(SidecarProcess sidecar)
        {
            if (LeastAvailable < MemoryFloor)
                throw new InvalidOperationException($"the machine is down to {Bench.Megabytes(LeastAvailable)} available (moto at {Bench.Megabytes(MotoNow)}, s3sync at {Bench.Megabytes(sidecar.Memory().Now)}): stopped");
        }

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            await sampling;
            stop.Dispose();
        }
    }
}
