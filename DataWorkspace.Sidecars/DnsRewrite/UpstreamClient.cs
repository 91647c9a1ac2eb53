using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Sidecars.DnsRewrite;

/// <summary>
/// Asks the upstream over a few long-lived UDP sockets, matching each answer to its query by ID and question, and over
/// TCP when the UDP answer is truncated: a socket per query (as ARSoft's own client does) costs more than the answer
/// itself (figures in bench/README).
/// </summary>
public sealed class UpstreamClient : IDisposable
{
    // Several source ports, each query on a random one with a random ID, so a forged answer must guess both.
    private const int SocketCount = 8;
    private const int HeaderLength = 12;

    private readonly IPEndPoint upstream;
    private readonly TimeSpan timeout;
    private readonly ushort udpPayloadSize;
    private readonly ILogger logger;
    private readonly Channel[] channels;
    private readonly CancellationTokenSource stopping = new();

    public UpstreamClient(IPEndPoint upstream, TimeSpan timeout, ushort udpPayloadSize, ILogger logger)
    {
        this.upstream = upstream;
        this.timeout = timeout;
        this.udpPayloadSize = udpPayloadSize;
        this.logger = logger;
        channels = new Channel[SocketCount];
        for (var index = 0; index < SocketCount; index++)
        {
            var socket = new Socket(upstream.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            // A connected socket only hears from the upstream's address and port.
            socket.Connect(upstream);
            channels[index] = new Channel(socket);
            channels[index].Receiving = ReceiveAsync(channels[index]);
        }
    }

    /// <summary>The upstream's answer to <paramref name="name"/> <paramref name="recordType"/>, or null when it did not answer in time.</summary>
    public async Task<DnsMessage?> AskAsync(DomainName name, RecordType recordType, CancellationToken cancellationToken)
    {
        var channel = channels[RandomNumberGenerator.GetInt32(SocketCount)];
        var pending = new Pending(name, recordType);
        ushort id;
        do
            id = (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue + 1);
        while (!channel.Pending.TryAdd(id, pending));

        var query = Encode(id, name, recordType);
        try
        {
            await channel.Socket.SendAsync(query, SocketFlags.None, cancellationToken);
            var answer = await pending.Answer.Task.WaitAsync(timeout, cancellationToken);
            return answer.IsTruncated ? await AskOverTcpAsync(query, pending, cancellationToken) : answer;
        }
        catch (Exception exception) when (exception is TimeoutException or SocketException)
        {
            return null;
        }
        finally
        {
            channel.Pending.TryRemove(KeyValuePair.Create(id, pending));
        }
    }

    private async Task<DnsMessage?> AskOverTcpAsync(byte[] query, Pending pending, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        using var socket = new Socket(upstream.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(upstream, deadline.Token);
            var framed = new byte[query.Length + 2];
            BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)query.Length);
            query.CopyTo(framed, 2);
            await socket.SendAsync(framed, SocketFlags.None, deadline.Token);
            var lengthBytes = new byte[2];
            await ReceiveExactlyAsync(socket, lengthBytes, deadline.Token);
            var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(lengthBytes)];
            await ReceiveExactlyAsync(socket, message, deadline.Token);
            var answer = Parse(message, message.Length);
            return answer is not null && pending.Matches(answer) && answer.TransactionID == BinaryPrimitives.ReadUInt16BigEndian(query) ? answer : null;
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException or EndOfStreamException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var count = await socket.ReceiveAsync(buffer[read..], SocketFlags.None, cancellationToken);
            if (count == 0)
                throw new EndOfStreamException("The upstream closed the connection before its answer was complete.");
            read += count;
        }
    }

    private async Task ReceiveAsync(Channel channel)
    {
        await Task.Yield();
        var buffer = new byte[ushort.MaxValue];
        while (!stopping.IsCancellationRequested)
        {
            int length;
            try
            {
                length = await channel.Socket.ReceiveAsync(buffer, SocketFlags.None, stopping.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException exception)
            {
                // ICMP port unreachable while the upstream is down arrives here; its queries time out.
                logger.LogDebug("Upstream {Upstream} receive failed: {SocketError}", upstream, exception.SocketErrorCode);
                continue;
            }
            if (length < HeaderLength || !channel.Pending.TryGetValue(BinaryPrimitives.ReadUInt16BigEndian(buffer), out var pending))
                continue;
            var answer = Parse(buffer, length);
            if (answer is not null && pending.Matches(answer))
                pending.Answer.TrySetResult(answer);
        }
    }

    private static DnsMessage? Parse(byte[] buffer, int length)
    {
        try
        {
            return DnsMessage.Parse(new ArraySegment<byte>(buffer, 0, length));
        }
        catch (Exception)
        {
            // Not a DNS message: whatever sent it, it is not the answer.
            return null;
        }
    }

    /// <summary>A recursive query with EDNS for one name and type.</summary>
    private byte[] Encode(ushort id, DomainName name, RecordType recordType)
    {
        var nameLength = name.Labels.Sum(label => label.Length + 1) + 1;
        var query = new byte[HeaderLength + nameLength + 4 + 11];
        var span = query.AsSpan();
        BinaryPrimitives.WriteUInt16BigEndian(span, id);
        span[2] = 0x01; // RD
        BinaryPrimitives.WriteUInt16BigEndian(span[4..], 1); // QDCOUNT
        BinaryPrimitives.WriteUInt16BigEndian(span[10..], 1); // ARCOUNT: the OPT record
        var position = HeaderLength;
        foreach (var label in name.Labels)
        {
            span[position++] = (byte)label.Length;
            position += Encoding.Latin1.GetBytes(label, span[position..]);
        }
        span[position++] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(span[position..], (ushort)recordType);
        BinaryPrimitives.WriteUInt16BigEndian(span[(position + 2)..], (ushort)RecordClass.INet);
        position += 4;
        // OPT: root name, type 41, class = UDP payload size, TTL 0, no options.
        span[position] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(span[(position + 1)..], (ushort)RecordType.Opt);
        BinaryPrimitives.WriteUInt16BigEndian(span[(position + 3)..], udpPayloadSize);
        return query;
    }

    public void Dispose()
    {
        stopping.Cancel();
        foreach (var channel in channels)
            channel.Socket.Dispose();
        stopping.Dispose();
    }

    private sealed class Channel(Socket socket)
    {
        public Socket Socket { get; } = socket;
        public ConcurrentDictionary<ushort, Pending> Pending { get; } = new();
        public Task Receiving { get; set; } = Task.CompletedTask;
    }

    private sealed class Pending(DomainName name, RecordType recordType)
    {
        public TaskCompletionSource<DnsMessage> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Matches(DnsMessage answer) =>
            !answer.IsQuery && answer.Questions.Count == 1
            && answer.Questions[0].RecordType == recordType && answer.Questions[0].Name.Equals(name, ignoreCase: true);
    }
}
