using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace DataWorkspace.Bench;

/// <summary>
/// One constant-rate run: latencies are measured from each request's scheduled send time (so a slow answer delays
/// the requests behind it in the figures too, as a user would see: no coordinated omission).
/// </summary>
public sealed record ConstantRateResult(
    double TargetRate,
    double AchievedRate,
    long Scheduled,
    long Completed,
    long Errors,
    double[] SortedLatenciesMs,
    double PacerLateP99Ms,
    IReadOnlyList<(double Second, double P99Ms)> P99PerSecond)
{
    public double Percentile(double p) => SortedLatenciesMs.Length == 0 ? double.NaN
        : SortedLatenciesMs[Math.Min(SortedLatenciesMs.Length - 1, (int)Math.Ceiling(p / 100 * SortedLatenciesMs.Length) - 1)];

    /// <summary>The generator's own lag: its schedule released requests over 2 ms late (p99).</summary>
    public bool FellBehind => PacerLateP99Ms > 2;
}

/// <summary>
/// An open-loop HTTP/1.1 load generator (wrk2's model): a pacing thread releases requests on a fixed schedule to a
/// pool of keep-alive connections, each carrying one request at a time; a request waits for a free connection with
/// its clock already running. Requests are sent as given (raw bytes), so every target gets exactly the same bytes.
/// </summary>
public static class ConstantRate
{
    public static byte[] Get(string path, string host, params string[] headers)
    {
        var text = new StringBuilder($"GET {path} HTTP/1.1\r\nHost: {host}\r\n");
        foreach (var header in headers) text.Append(header).Append("\r\n");
        return Encoding.ASCII.GetBytes(text.Append("\r\n").ToString());
    }

    public static async Task<ConstantRateResult> RunAsync(IPEndPoint target, byte[] request, double rate, TimeSpan duration, int connections = 64)
    {
        var ticksPerRequest = Stopwatch.Frequency / rate;
        var queue = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleWriter = true });
        var sockets = new List<Socket>();
        for (var i = 0; i < connections; i++)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(target);
            sockets.Add(socket);
        }

        var start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 100;
        var end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var late = new List<double>();
        var scheduled = 0L;
        var pacer = new Thread(() =>
        {
            for (long i = 0; ; )
            {
                var now = Stopwatch.GetTimestamp();
                if (now >= end) break;
                for (var due = start + (long)(i * ticksPerRequest); due <= now; due = start + (long)(i * ticksPerRequest))
                {
                    queue.Writer.TryWrite(due);
                    late.Add((now - due) * 1000.0 / Stopwatch.Frequency);
                    i++;
                }

                scheduled = i;
                var wait = start + (long)(i * ticksPerRequest) - Stopwatch.GetTimestamp();
                // Sleep when the next request is over a timer tick away, else give the core to the connections.
                if (wait > Stopwatch.Frequency * 3 / 2000) Thread.Sleep(1);
                else Thread.Yield();
            }

            queue.Writer.Complete();
        }) { IsBackground = true, Name = "constant-rate pacer", Priority = ThreadPriority.Highest };

        var workers = sockets.Select(socket => Task.Run(() => ConnectionAsync(socket, request, queue.Reader))).ToList();
        pacer.Start();
        var all = Task.WhenAll(workers);
        // A target that stops answering fails its requests rather than holding the bench.
        if (await Task.WhenAny(all, Task.Delay(duration + TimeSpan.FromSeconds(30))) != all)
            foreach (var socket in sockets) socket.Dispose();
        var results = await all;
        foreach (var socket in sockets) socket.Dispose();

        var samples = results.SelectMany(r => r.Samples).ToList();
        var latencies = samples.Select(s => s.LatencyMs).Order().ToArray();
        var perSecond = samples.GroupBy(s => (int)((s.ScheduledTicks - start) / Stopwatch.Frequency))
            .OrderBy(g => g.Key)
            .Select(g =>
            {
                var sorted = g.Select(s => s.LatencyMs).Order().ToArray();
                return ((double)g.Key + 1, sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(0.99 * sorted.Length) - 1)]);
            }).ToList();
        var lateSorted = late.Order().ToArray();
        return new ConstantRateResult(rate, latencies.Length / duration.TotalSeconds, scheduled, latencies.Length, results.Sum(r => r.Errors), latencies,
            lateSorted.Length == 0 ? 0 : lateSorted[Math.Min(lateSorted.Length - 1, (int)Math.Ceiling(0.99 * lateSorted.Length) - 1)], perSecond);
    }

    private sealed record ConnectionResult(List<(long ScheduledTicks, double LatencyMs)> Samples, long Errors);

    private static async Task<ConnectionResult> ConnectionAsync(Socket socket, byte[] request, ChannelReader<long> queue)
    {
        var samples = new List<(long, double)>();
        var errors = 0L;
        var buffer = new byte[64 * 1024];
        var broken = false;
        await foreach (var due in queue.ReadAllAsync())
        {
            if (broken)
            {
                errors++;
                continue;
            }

            try
            {
                await socket.SendAsync(request, SocketFlags.None);
                if (await ReadResponseAsync(socket, buffer)) samples.Add((due, (Stopwatch.GetTimestamp() - due) * 1000.0 / Stopwatch.Frequency));
                else errors++;
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                errors++;
                broken = true;
            }
        }

        return new ConnectionResult(samples, errors);
    }

    // One answer: the headers, then a Content-Length body or chunks up to the last one; true for a 2xx.
    private static async Task<bool> ReadResponseAsync(Socket socket, byte[] buffer)
    {
        var filled = 0;
        int headerEnd;
        while ((headerEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
            filled += await ReceiveSomeAsync(socket, buffer, filled);
        headerEnd += 4;
        var head = Encoding.ASCII.GetString(buffer, 0, headerEnd);
        var ok = head.Length > 12 && head[9] == '2';
        var lengthAt = head.IndexOf("\ncontent-length:", StringComparison.OrdinalIgnoreCase);
        if (lengthAt >= 0)
        {
            var valueStart = lengthAt + "\ncontent-length:".Length;
            var length = int.Parse(head.AsSpan(valueStart, head.IndexOf('\r', valueStart) - valueStart).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            var remaining = length - (filled - headerEnd);
            while (remaining > 0) remaining -= await ReceiveSomeAsync(socket, buffer, 0);
            return ok;
        }

        if (head.Contains("\ntransfer-encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            // Enough for the small answers measured here: read until the last chunk's marker arrives.
            var tail = Encoding.ASCII.GetString(buffer, headerEnd, filled - headerEnd);
            while (!tail.EndsWith("0\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await ReceiveSomeAsync(socket, buffer, 0);
                tail = (tail.Length > 16 ? tail[^16..] : tail) + Encoding.ASCII.GetString(buffer, 0, read);
            }

            return ok;
        }

        return ok && head.Contains(" 204 ", StringComparison.Ordinal);
    }

    private static async Task<int> ReceiveSomeAsync(Socket socket, byte[] buffer, int offset)
    {
        if (offset >= buffer.Length) throw new SocketException((int)SocketError.MessageSize);
        var read = await socket.ReceiveAsync(buffer.AsMemory(offset), SocketFlags.None);
        return read == 0 ? throw new SocketException((int)SocketError.ConnectionReset) : read;
    }
}
