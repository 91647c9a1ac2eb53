using System.Net;
using System.Net.Sockets;
using System.Text;

namespace DataWorkspace.Bench.Fuzz;

/// <summary>One HTTP response read off a raw connection: its status and the start of its head and body (for leak checks).</summary>
public sealed record RawResponse(int Status, string Text);

/// <summary>What came back on one raw connection: the responses in order, and whether the server closed it or went quiet.</summary>
public sealed record RawExchange(IReadOnlyList<RawResponse> Responses, bool Closed, bool Reset, bool TimedOut, bool Unparsable);

/// <summary>
/// HTTP/1.1 over a plain socket, so that requests no client library would send can be: the bytes go as given, and the
/// responses are read back one after another (Content-Length, chunked, or until close).
/// </summary>
public static class RawHttp
{
    public static async Task<RawExchange> ExchangeAsync(int port, byte[] request, int expected, bool head = false,
        TimeSpan? idle = null, TimeSpan? total = null, CancellationToken cancellationToken = default)
    {
        var quiet = idle ?? TimeSpan.FromSeconds(1.5);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(total ?? TimeSpan.FromSeconds(5));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, LingerState = new LingerOption(true, 0) };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), deadline.Token);
        var sending = SendAsync(socket, request, deadline.Token);

        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        var responses = new List<RawResponse>();
        bool closed = false, reset = false, timedOut = false, unparsable = false;
        var position = 0;
        while (true)
        {
            int count;
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token))
            {
                wait.CancelAfter(quiet);
                try
                {
                    count = await socket.ReceiveAsync(buffer, SocketFlags.None, wait.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    timedOut = true;
                    break;
                }
                catch (SocketException)
                {
                    reset = true;
                    break;
                }
            }
            if (count == 0)
            {
                closed = true;
                break;
            }
            received.Write(buffer, 0, count);
            unparsable |= !Parse(received.GetBuffer().AsSpan(0, (int)received.Length), ref position, responses, head, atEnd: false);
            if (unparsable || responses.Count >= expected) break;
        }
        if (closed || reset)
            unparsable |= !Parse(received.GetBuffer().AsSpan(0, (int)received.Length), ref position, responses, head, atEnd: true);
        try { await sending; } catch (Exception exception) when (exception is SocketException or OperationCanceledException or ObjectDisposedException) { }
        return new RawExchange(responses, closed, reset, timedOut && responses.Count == 0, unparsable);
    }

    private static async Task SendAsync(Socket socket, byte[] request, CancellationToken cancellationToken)
    {
        // Large requests in pieces, as a client sends them: the server may answer (431, 413) and close before the end.
        for (var offset = 0; offset < request.Length; offset += 16 * 1024)
            await socket.SendAsync(request.AsMemory(offset, Math.Min(16 * 1024, request.Length - offset)), SocketFlags.None, cancellationToken);
    }

    /// <summary>Reads every whole response from <paramref name="position"/> on; false when the bytes are not HTTP responses at all.</summary>
    private static bool Parse(ReadOnlySpan<byte> data, ref int position, List<RawResponse> responses, bool head, bool atEnd)
    {
        while (position < data.Length)
        {
            var rest = data[position..];
            if (rest.Length < 12) return atEnd ? false : true;
            if (!rest.StartsWith("HTTP/1."u8)) return false;
            var end = rest.IndexOf("\r\n\r\n"u8);
            if (end < 0) return !atEnd;
            var headText = Encoding.Latin1.GetString(rest[..end]);
            if (!int.TryParse(headText.AsSpan(9, 3), out var status)) return false;
            var bodyStart = end + 4;
            long? length = null;
            var chunked = false;
            foreach (var line in headText.Split("\r\n").Skip(1))
            {
                var colon = line.IndexOf(':');
                if (colon < 0) continue;
                var name = line[..colon].Trim();
                var value = line[(colon + 1)..].Trim();
                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && long.TryParse(value, out var n)) length = n;
                if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && value.Contains("chunked", StringComparison.OrdinalIgnoreCase)) chunked = true;
            }

            int bodyEnd;
            if (head || status is (>= 100 and < 200) or 204 or 304) bodyEnd = bodyStart;
            else if (chunked)
            {
                bodyEnd = ChunkedEnd(rest, bodyStart);
                if (bodyEnd < 0) return !atEnd;
            }
            else if (length is { } l)
            {
                if (rest.Length < bodyStart + l) { if (atEnd) { responses.Add(Response(status, rest)); position = data.Length; } return true; }
                bodyEnd = bodyStart + (int)l;
            }
            else
            {
                if (!atEnd) return true;
                bodyEnd = rest.Length;
            }
            responses.Add(Response(status, rest[..bodyEnd]));
            position += bodyEnd;
        }
        return true;
    }

    private static RawResponse Response(int status, ReadOnlySpan<byte> bytes) => new(status, Encoding.UTF8.GetString(bytes[..Math.Min(bytes.Length, 64 * 1024)]));

    private static int ChunkedEnd(ReadOnlySpan<byte> data, int at)
    {
        while (true)
        {
            var lineEnd = data[at..].IndexOf("\r\n"u8);
            if (lineEnd < 0) return -1;
            var sizeText = Encoding.Latin1.GetString(data.Slice(at, lineEnd)).Split(';')[0].Trim();
            if (!int.TryParse(sizeText, System.Globalization.NumberStyles.HexNumber, null, out var size)) return -1;
            at += lineEnd + 2;
            if (size == 0)
            {
                var trailerEnd = data[at..].IndexOf("\r\n"u8);
                // Trailers end with an empty line; with none, the empty line follows at once.
                while (trailerEnd > 0)
                {
                    at += trailerEnd + 2;
                    trailerEnd = data[at..].IndexOf("\r\n"u8);
                }
                return trailerEnd < 0 ? -1 : at + 2;
            }
            if (data.Length < at + size + 2) return -1;
            at += size + 2;
        }
    }
}
