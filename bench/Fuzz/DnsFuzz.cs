using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace DataWorkspace.Bench.Fuzz;

/// <summary>
/// Malformed DNS messages at the dns-rewrite sidecar over UDP and TCP: truncated headers, bad label lengths,
/// compression loops, huge counts, responses sent as queries. The sidecar must stay up and answer a valid query after
/// each batch; a SERVFAIL (the server's own failure) to a malformed query is counted as its 5xx.
/// </summary>
public sealed class DnsFuzz : IAsyncDisposable
{
    private readonly Tally tally;
    private readonly Mutator mutator;
    private readonly Process sidecar;
    private readonly Upstream upstream;
    private readonly StringBuilder output;
    private readonly int port;

    private DnsFuzz(Tally tally, Mutator mutator, Process sidecar, Upstream upstream, int port, StringBuilder output) =>
        (this.tally, this.mutator, this.sidecar, this.upstream, this.port, this.output) = (tally, mutator, sidecar, upstream, port, output);

    public static async Task<DnsFuzz> StartAsync(Tally tally, Mutator mutator)
    {
        var upstream = Upstream.Start();
        var port = DnsPorts.Free();
        var start = new ProcessStartInfo("dotnet",
        [
            Path.Combine(AppContext.BaseDirectory, "dataworkspace-sidecar.dll"), "dns-rewrite", "--listen", $"127.0.0.1:{port}",
            "--upstream", $"127.0.0.1:{upstream.Port}", "--rule", @"^(.+)\.tools\.internal$=>$1.lb.test",
        ])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        var output = new StringBuilder();
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, line) => { lock (output) output.AppendLine(line.Data); };
        process.ErrorDataReceived += (_, line) => { lock (output) output.AppendLine(line.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var fuzz = new DnsFuzz(tally, mutator, process, upstream, port, output);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await fuzz.AskValidAsync() is null)
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"dns-rewrite did not start answering:\n{fuzz.Output}");
            await Task.Delay(200);
        }
        return fuzz;
    }

    private string Output
    {
        get
        {
            lock (output) return output.ToString();
        }
    }

    private static byte[] Query(string name, ushort type = 1, ushort id = 0x1234, ushort flags = 0x0100)
    {
        var query = new List<byte>();
        var header = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(header, id);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), flags);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), 1);
        query.AddRange(header);
        foreach (var label in name.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var bytes = Encoding.UTF8.GetBytes(label);
            query.Add((byte)bytes.Length);
            query.AddRange(bytes);
        }
        query.Add(0);
        query.AddRange([(byte)(type >> 8), (byte)type, 0, 1]);
        return [.. query];
    }

    private static readonly byte[][] Seeds =
    [
        Query("tool-1.tools.internal"),
        Query("tool-2.tools.internal", type: 28),
        Query("other.example"),
        Query("a.b.c.tools.internal", type: 16),
        // With an EDNS OPT record asking for 4096-byte answers.
        [.. Query("tool-3.tools.internal").Select((b, i) => i == 11 ? (byte)1 : b), 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0],
    ];

    private static List<(string Name, byte[] Packet)> Known()
    {
        var valid = Query("tool-1.tools.internal");
        byte[] With(int at, params byte[] bytes)
        {
            var copy = (byte[])valid.Clone();
            bytes.CopyTo(copy, at);
            return copy;
        }
        var header = valid[..12];
        return
        [
            ("empty", []),
            ("one byte", [0x12]),
            ("11 bytes", valid[..11]),
            ("header only", header),
            ("header, 65,535 questions", [.. header[..4], 0xFF, 0xFF, .. header[6..]]),
            ("65,535 of every count", [.. header[..4], 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, .. valid[12..]]),
            ("label longer than the packet", [.. header, 63, (byte)'a', 0, 0, 1, 0, 1]),
            ("label length 0x40 (reserved)", [.. header, 0x40, (byte)'a', 0, 0, 1, 0, 1]),
            ("label length 0x80 (reserved)", [.. header, 0x80, (byte)'a', 0, 0, 1, 0, 1]),
            ("pointer to itself", [.. header, 0xC0, 12, 0, 1, 0, 1]),
            ("pointer loop of two", [.. header, 1, (byte)'a', 0xC0, 12, 0, 1, 0, 1]),
            ("pointer beyond the end", [.. header, 0xC0, 0xFF, 0, 1, 0, 1]),
            ("pointer into the header", [.. header, 0xC0, 2, 0, 1, 0, 1]),
            ("name of 300 bytes", Query(string.Join('.', Enumerable.Repeat(new string('a', 60), 5)) + ".tools.internal")),
            ("127 one-letter labels", Query(string.Join('.', Enumerable.Repeat("a", 127)) + ".tools.internal")),
            ("no terminating zero", valid[..^5]),
            ("question without type", valid[..^4]),
            ("a response, not a query", With(2, 0x81, 0x80)),
            ("opcode 15", With(2, 0x79, 0x00)),
            ("opcode NOTIFY", With(2, 0x21, 0x00)),
            ("zero questions", With(4, 0, 0)),
            ("two questions, one there", With(4, 0, 2)),
            ("type ANY", Query("tool-1.tools.internal", type: 255)),
            ("type AXFR", Query("tool-1.tools.internal", type: 252)),
            ("type 0", Query("tool-1.tools.internal", type: 0)),
            ("class 65535", [.. valid[..^2], 0xFF, 0xFF]),
            ("NUL and dots in a label", [.. header, 5, (byte)'a', 0, (byte)'.', (byte)'.', (byte)'b', 5, .. "tools"u8, 8, .. "internal"u8, 0, 0, 1, 0, 1]),
            ("non-ASCII label", Query("t\u00f6\u00f6l-\U0001F600.tools.internal")),
            ("label rewrite makes over 255", Query(string.Join('.', Enumerable.Repeat(new string('x', 63), 3)) + ".abcdefghijklmnopqrstuvwxyzabcdefghijk.tools.internal")),
            ("64 KB of zeros", new byte[65_000]),
            ("64 KB of 0xC0", Enumerable.Repeat((byte)0xC0, 65_000).ToArray()),
            ("EDNS with 65,535 payload and bad option", [.. valid[..10], 0, 1, .. valid[12..], 0, 0, 41, 0xFF, 0xFF, 0, 0, 0, 0, 0, 8, 0, 8, 0, 0xFF, 1, 2, 3, 4]),
            ("two OPT records", [.. valid[..10], 0, 2, .. valid[12..], 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]),
            ("answer record in a query, rdlength past the end", [.. valid[..6], 0, 1, .. valid[8..], 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0xFF, 0xFF, 1, 2]),
            ("TSIG-like record", [.. valid[..10], 0, 1, .. valid[12..], 0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 3, 1, 2, 3]),
        ];
    }

    public async Task RunAsync(TimeSpan duration, int maxCases, CancellationToken cancellationToken)
    {
        const int Workers = 8;
        var until = DateTime.UtcNow + duration;
        var known = Known();
        var next = 0;
        var generate = new Lock();
        while (DateTime.UtcNow < until && next < maxCases && !cancellationToken.IsCancellationRequested)
        {
            var before = next;
            await Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
            {
                using var udp = new UdpClient(AddressFamily.InterNetwork);
                udp.Connect(IPAddress.Loopback, port);
                for (var i = 0; i < 10; i++)
                {
                    (string Name, byte[] Packet, bool Tcp, int Length) work;
                    lock (generate)
                    {
                        if (next >= maxCases) return;
                        var index = next++;
                        // The known cases go once over UDP and once over TCP; the random ones a tenth over TCP, whose
                        // length prefix lies now and then (longer or shorter than the message).
                        work = index < known.Count * 2
                            ? ("known: " + known[index % known.Count].Name, known[index % known.Count].Packet, index >= known.Count, known[index % known.Count].Packet.Length)
                            : ("mutated", mutator.Mutate(mutator.Pick(Seeds)), mutator.Chance(0.1), -1);
                        if (work.Tcp && work.Length < 0) work.Length = mutator.Chance(0.1) ? mutator.Next(0, 65_536) : work.Packet.Length;
                    }
                    tally.Sending();
                    var answer = work.Tcp ? await AskTcpAsync(work.Packet, work.Length, cancellationToken) : await AskUdpAsync(udp, work.Packet, cancellationToken);
                    Classify(work.Name + (work.Tcp ? " (TCP)" : " (UDP)"), work.Packet, answer);
                }
            }, cancellationToken)));
            if (sidecar.HasExited)
            {
                tally.Found("crash", $"cases {before + 1}-{next}", $"dns-rewrite exited with {sidecar.ExitCode}:\n{Output[^Math.Min(Output.Length, 2000)..]}", []);
                return;
            }
            if (await AskValidAsync() != "10.0.0.1")
                tally.Found("crash", $"after cases {before + 1}-{next}", "dns-rewrite did not answer a valid query after the batch", []);
        }
    }

    private void Classify(string name, byte[] packet, byte[]? answer)
    {
        if (answer is null)
        {
            tally.Outcome("dropped (no answer)");
            return;
        }
        if (answer.Length < 4)
        {
            tally.Outcome("answer too short");
            tally.Found("bad answer", name, $"{answer.Length}-byte answer", packet);
            return;
        }
        var code = answer[3] & 0x0F;
        var mnemonic = code switch { 0 => "NOERROR", 1 => "FORMERR", 2 => "SERVFAIL", 3 => "NXDOMAIN", 4 => "NOTIMP", 5 => "REFUSED", _ => "rcode " + code.ToString(CultureInfo.InvariantCulture) };
        tally.Outcome(mnemonic);
        if (code == 2) tally.Found("5xx", name, "SERVFAIL: the server failed on it (FORMERR, REFUSED or no answer is right for a malformed query)", packet);
    }

    private static async Task<byte[]?> AskUdpAsync(UdpClient udp, byte[] packet, CancellationToken cancellationToken)
    {
        await udp.SendAsync(packet, cancellationToken);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(TimeSpan.FromMilliseconds(300));
        try
        {
            // An answer to an earlier query that came late would have another id; those are skipped.
            while (true)
            {
                var reply = (await udp.ReceiveAsync(wait.Token)).Buffer;
                if (packet.Length < 2 || reply.Length < 2 || (reply[0] == packet[0] && reply[1] == packet[1])) return reply;
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException)
        {
            return null;
        }
    }

    private async Task<byte[]?> AskTcpAsync(byte[] packet, int length, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(TimeSpan.FromMilliseconds(600));
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, port, wait.Token);
            var framed = new byte[packet.Length + 2];
            BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)length);
            packet.CopyTo(framed, 2);
            await socket.SendAsync(framed, SocketFlags.None, wait.Token);
            var lengthBytes = new byte[2];
            if (await socket.ReceiveAsync(lengthBytes, SocketFlags.None, wait.Token) < 2) return null;
            var reply = new byte[BinaryPrimitives.ReadUInt16BigEndian(lengthBytes)];
            var read = 0;
            while (read < reply.Length)
            {
                var count = await socket.ReceiveAsync(reply.AsMemory(read), SocketFlags.None, wait.Token);
                if (count == 0) return null;
                read += count;
            }
            return reply;
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException)
        {
            return null;
        }
    }

    /// <summary>The address dns-rewrite gives for tool-1.tools.internal, or null when it does not answer.</summary>
    private async Task<string?> AskValidAsync()
    {
        using var udp = new UdpClient(AddressFamily.InterNetwork);
        udp.Connect(IPAddress.Loopback, port);
        var query = Query("tool-1.tools.internal", id: 0x4242);
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var reply = await AskUdpAsync(udp, query, CancellationToken.None);
            if (reply is { Length: > 0 } && BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(6)) > 0 && reply.Length >= query.Length + 16)
                return new IPAddress(reply.AsSpan(reply.Length - 4, 4)).ToString();
        }
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        if (!sidecar.HasExited)
        {
            sidecar.Kill(entireProcessTree: true);
            await sidecar.WaitForExitAsync();
        }
        sidecar.Dispose();
        upstream.Dispose();
    }

    /// <summary>The upstream the sidecar forwards to: every A question gets 10.0.0.1, anything else an empty NOERROR, a malformed one FORMERR.</summary>
    private sealed class Upstream : IDisposable
    {
        private readonly UdpClient udp = new(new IPEndPoint(IPAddress.Loopback, 0));
        private readonly CancellationTokenSource stopping = new();

        public int Port => ((IPEndPoint)udp.Client.LocalEndPoint!).Port;

        public static Upstream Start()
        {
            var upstream = new Upstream();
            _ = Task.Run(upstream.ServeAsync);
            return upstream;
        }

        private async Task ServeAsync()
        {
            while (!stopping.IsCancellationRequested)
            {
                UdpReceiveResult received;
                try
                {
                    received = await udp.ReceiveAsync(stopping.Token);
                }
                catch (OperationCanceledException) { return; }
                catch (ObjectDisposedException) { return; }
                catch (SocketException) { continue; }
                try
                {
                    await udp.SendAsync(Answer(received.Buffer), received.RemoteEndPoint, stopping.Token);
                }
                catch (Exception exception) when (exception is SocketException or OperationCanceledException or ObjectDisposedException) { }
            }
        }

        private static byte[] Answer(byte[] query)
        {
            if (query.Length < 12) return [];
            var at = 12;
            while (at < query.Length && query[at] != 0 && query[at] < 64) at += query[at] + 1;
            if (at + 5 > query.Length) return [query[0], query[1], 0x81, 0x81, 0, 0, 0, 0, 0, 0, 0, 0];
            var question = query.AsSpan(12, at + 5 - 12);
            var isA = query[at + 1] == 0 && query[at + 2] == 1;
            var answer = new List<byte> { query[0], query[1], 0x81, 0x80, 0, 1, 0, (byte)(isA ? 1 : 0), 0, 0, 0, 0 };
            answer.AddRange(question.ToArray());
            if (isA) answer.AddRange([0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]);
            return [.. answer];
        }

        public void Dispose()
        {
            stopping.Cancel();
            udp.Dispose();
        }
    }
}
