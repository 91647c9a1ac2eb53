using System.Diagnostics;
using System.Globalization;
using System.Net;
using DataWorkspace.TestSupport;

/// <summary>
/// <c>dataworkspace-sidecar s3sync</c> as a tool's launcher runs it (its own process, the environment a tool gets, a
/// health port), with what the bench reads from outside: its health, its memory and CPU time from /proc, its log.
/// </summary>
internal sealed class SidecarProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly int healthPort;
    private readonly Queue<string> lastLines = new();
    private long lines;
    private long watcherOverflows;
    private long uploads;
    private long downloads;

    private SidecarProcess(Process process, int healthPort, Stopwatch clock) => (this.process, this.healthPort, Clock) = (process, healthPort, clock);

    /// <summary>Running since just before the process was started.</summary>
    public Stopwatch Clock { get; }

    public int Id => process.Id;

    public long LogLines => Interlocked.Read(ref lines);

    public long WatcherOverflows => Interlocked.Read(ref watcherOverflows);

    /// <summary>Files uploaded so far, by its log.</summary>
    public long Uploads => Interlocked.Read(ref uploads);

    /// <summary>Files downloaded so far, by its log.</summary>
    public long Downloads => Interlocked.Read(ref downloads);

    public static SidecarProcess Start(Uri endpoint, string bucket, string prefix, string local, string stateFile, params string[] arguments)
    {
        var healthPort = Ports.Free();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Dll(), "s3sync", "--local", local, "--state-file", stateFile, "--health-port", healthPort.ToString(CultureInfo.InvariantCulture) }.Concat(arguments))
            start.ArgumentList.Add(argument);
        foreach (var name in new[] { "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_PROFILE", "S3SYNC_EXCLUDE", "S3SYNC_POLL_INTERVAL", "S3SYNC_QUIET_PERIOD" })
            start.Environment.Remove(name);
        start.Environment["AWS_ACCESS_KEY_ID"] = MotoServer.AccessKeyId;
        start.Environment["AWS_SECRET_ACCESS_KEY"] = MotoServer.SecretAccessKey;
        start.Environment["AWS_REGION"] = MotoServer.Region;
        start.Environment["AWS_ENDPOINT_URL_S3"] = endpoint.ToString();
        start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        start.Environment["S3_BUCKET"] = bucket;
        start.Environment["S3_PREFIX"] = prefix;
        var clock = Stopwatch.StartNew();
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var sidecar = new SidecarProcess(process, healthPort, clock);
        process.OutputDataReceived += (_, e) => sidecar.Append(e.Data);
        process.ErrorDataReceived += (_, e) => sidecar.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return sidecar;
    }

    /// <summary>The sidecar built beside the bench (it references DataWorkspace.Sidecars, so it is built in the same configuration).</summary>
    private static string Dll()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "dataworkspace-sidecar.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is missing: build bench/S3Sync, which builds the sidecar beside it.");
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        Interlocked.Increment(ref lines);
        if (line.Contains("\"Message\":\"Uploaded ", StringComparison.Ordinal))
            Interlocked.Increment(ref uploads);
        else if (line.Contains("\"Message\":\"Downloaded ", StringComparison.Ordinal))
            Interlocked.Increment(ref downloads);
        else if (line.Contains("Too many local changes at once", StringComparison.Ordinal))
            Interlocked.Increment(ref watcherOverflows);
        lock (lastLines)
        {
            lastLines.Enqueue(line);
            if (lastLines.Count > 40)
                lastLines.Dequeue();
        }
    }

    public string LastLines()
    {
        lock (lastLines)
            return string.Join('\n', lastLines);
    }

    /// <summary>
    /// The time from the start of the process until its health endpoint first says a sync round succeeded: the first
    /// full round (listing, walk, every transfer) is done. Polled every 10 ms.
    /// </summary>
    public async Task<TimeSpan> FirstRoundDoneAsync(TimeSpan timeout, Action? sample = null)
    {
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"s3sync exited with code {process.ExitCode}:\n{LastLines()}");
            if (Clock.Elapsed > timeout)
                throw new TimeoutException($"s3sync's first round was not done within {timeout.TotalSeconds:N0} s:\n{LastLines()}");
            var (status, body) = await HealthAsync();
            if (status == HttpStatusCode.OK && body.Contains("last succeeded", StringComparison.Ordinal))
                return Clock.Elapsed;
            sample?.Invoke();
            await Task.Delay(10);
        }
    }

    public async Task<(HttpStatusCode Status, string Body)> HealthAsync()
    {
        try
        {
            using var response = await http.GetAsync($"http://127.0.0.1:{healthPort}/health");
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (HttpRequestException)
        {
            return (0, "");
        }
    }

    /// <summary>Resident memory now and at its peak (VmRSS, VmHWM), in bytes.</summary>
    public (long Now, long Peak) Memory() => ProcessMemory(process.Id);

    /// <summary>CPU time (user and system) the process has used so far.</summary>
    public TimeSpan CpuTime() => ProcessCpuTime(process.Id);

    public static (long Now, long Peak) ProcessMemory(int processId)
    {
        long now = 0, peak = 0;
        foreach (var line in File.ReadLines($"/proc/{processId}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                now = Kilobytes(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                peak = Kilobytes(line);
        }
        return (now, peak);

        static long Kilobytes(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    public static TimeSpan ProcessCpuTime(int processId)
    {
        var stat = File.ReadAllText($"/proc/{processId}/stat");
        // The fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14 and 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0);
    }

    /// <summary>SIGTERM, as the launcher stops it; waits for it to finish what is under way and exit.</summary>
    public async Task<int> StopAsync()
    {
        using (var kill = Process.Start("bash", ["-c", $"kill -TERM {process.Id.ToString(CultureInfo.InvariantCulture)}"]))
            await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        process.Dispose();
        http.Dispose();
    }
}
