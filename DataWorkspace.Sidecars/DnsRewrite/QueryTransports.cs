using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Sidecars.DnsRewrite;

/// <summary>Why a packet was dropped: <see cref="Reason"/> for the counter's tag, <see cref="Description"/> for the log.</summary>
internal sealed record MalformedPacket(string Reason, string Description);

/// <summary>The checks a packet passes before it is handed to the DNS server: too short or a response are dropped, not answered.</summary>
internal static class QueryPacket
{
    public const int HeaderLength = 12;

    /// <summary>The raw package for <paramref name="packet"/> (2 length bytes then the message), or why it is not a query.</summary>
    public static DnsReceivedRawPackage? Read(byte[] packet, IPEndPoint remote, IPEndPoint local, out MalformedPacket? problem)
    {
        var message = packet.AsSpan(DnsRawPackage.LENGTH_HEADER_LENGTH);
        problem = null;
        if (message.Length < HeaderLength)
            problem = new MalformedPacket("too_short", "shorter than a DNS header");
        // A response sent to a server must not be answered, or two servers could answer each other forever.
        else if ((message[2] & 0x80) != 0)
            problem = new MalformedPacket("not_a_query", "a response, not a query");
        if (problem is not null)
            return null;
        try
        {
            return new DnsReceivedRawPackage(packet, remote, local);
        }
        catch (Exception exception)
        {
            problem = new MalformedPacket("unreadable_question", $"its question cannot be read ({exception.GetType().Name}: {exception.Message})");
            return null;
        }
    }

    /// <summary>A copy of <paramref name="message"/> behind the 2 length bytes ARSoft's packages carry.</summary>
    public static byte[] Package(ReadOnlySpan<byte> message)
    {
        var packet = new byte[message.Length + DnsRawPackage.LENGTH_HEADER_LENGTH];
        BinaryPrimitives.WriteUInt16BigEndian(packet, (ushort)message.Length);
        message.CopyTo(packet.AsSpan(DnsRawPackage.LENGTH_HEADER_LENGTH));
        return packet;
    }
}

/// <summary>
/// Queries over UDP. ARSoft's own UDP server transport reads at most 512 bytes of a datagram, so an EDNS query larger
/// than that would be cut; this one reads up to 64 KB into one buffer and keeps only each datagram's bytes.
/// </summary>
internal sealed class UdpQueryTransport(IPEndPoint endpoint, DnsRewriteMetrics metrics, ILogger logger) : IServerTransport
{
    private readonly Socket socket = new(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
    // The server awaits one accept at a time per transport, so one receive buffer is enough.
    private readonly byte[] receiveBuffer = new byte[ushort.MaxValue];

    public ushort DefaultAllowedResponseSize => 512;
    public bool SupportsMultipleResponses => false;
    public bool AllowTruncatedResponses => true;
    public TransportProtocol TransportProtocol => TransportProtocol.Udp;

    public IPEndPoint LocalEndPoint => (IPEndPoint)socket.LocalEndPoint!;

    public void Bind()
    {
        if (endpoint.Address.Equals(IPAddress.IPv6Any))
            socket.DualMode = true;
        socket.Bind(endpoint);
    }

    public void Close() => socket.Close();

    public void Dispose() => socket.Dispose();

    public async Task<IServerConnection?> AcceptConnectionAsync(CancellationToken token = default)
    {
        var anyRemote = new IPEndPoint(endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!token.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await socket.ReceiveFromAsync(receiveBuffer, SocketFlags.None, anyRemote, token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException)
            {
                return null;
            }
            catch (SocketException exception)
            {
                // An ICMP error from an earlier reply (the client went away) surfaces here; it concerns no query.
                logger.LogDebug("UDP receive failed: {SocketError}", exception.SocketErrorCode);
                continue;
            }

            metrics.Query("udp");
            var remote = (IPEndPoint)received.RemoteEndPoint;
            var package = QueryPacket.Read(QueryPacket.Package(receiveBuffer.AsSpan(0, received.ReceivedBytes)), remote, LocalEndPoint, out var problem);
            if (package is null)
            {
                DnsRewriteLog.Malformed(logger, "udp", remote, received.ReceivedBytes, problem!.Description);
                metrics.Malformed(problem.Reason);
                continue;
            }
            return new Connection(this, package, socket);
        }
        return null;
    }

    private sealed class Connection(UdpQueryTransport transport, DnsReceivedRawPackage query, Socket socket) : IServerConnection
    {
        public IServerTransport Transport => transport;
        public IPEndPoint RemoteEndPoint => query.RemoteEndpoint;
        public IPEndPoint LocalEndPoint => query.LocalEndpoint;
        public bool CanRead { get; private set; } = true;

        public Task<bool> InitializeAsync(CancellationToken token = default) => Task.FromResult(true);

        public Task<DnsReceivedRawPackage?> ReceiveAsync(CancellationToken token = default)
        {
            CanRead = false;
            return Task.FromResult<DnsReceivedRawPackage?>(query);
        }

        public async Task<bool> SendAsync(DnsRawPackage package, CancellationToken token = default)
        {
            try
            {
                var segment = package.ToArraySegment(false);
                return await socket.SendToAsync(segment, SocketFlags.None, query.RemoteEndpoint, token) == segment.Count;
            }
            catch (Exception exception) when (exception is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                return false;
            }
        }

        public void Dispose()
        {
        }
    }
}

/// <summary>Queries over TCP (RFC 7766): length-prefixed messages, several per connection, answered as they complete.</summary>
internal sealed class TcpQueryTransport(IPEndPoint endpoint, DnsRewriteMetrics metrics, ILogger logger) : IServerTransport
{
    // How long a connection may sit idle between queries, and how long one query's bytes may take to arrive.
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(5);
    // The server never disposes a connection whose client hung up with an answer still owed (its reference count
    // stays above zero), so a closed connection is disposed after its last answer or after this long.
    private static readonly TimeSpan AnswerGrace = TimeSpan.FromSeconds(15);

    private readonly TcpListener listener = new(endpoint);

    private DnsRewriteMetrics Metrics => metrics;
    private ILogger Logger => logger;

    public ushort DefaultAllowedResponseSize => ushort.MaxValue;
    public bool SupportsMultipleResponses => true;
    public bool AllowTruncatedResponses => false;
    public TransportProtocol TransportProtocol => TransportProtocol.Tcp;

    public IPEndPoint LocalEndPoint => (IPEndPoint)listener.LocalEndpoint;

    public void Bind()
    {
        if (endpoint.Address.Equals(IPAddress.IPv6Any))
            listener.Server.DualMode = true;
        listener.Start();
    }

    public void Close() => listener.Stop();

    public void Dispose() => listener.Dispose();

    public async Task<IServerConnection?> AcceptConnectionAsync(CancellationToken token = default)
    {
        while (!token.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException or InvalidOperationException)
            {
                return null;
            }
            catch (SocketException exception)
            {
                logger.LogDebug("TCP accept failed: {SocketError}", exception.SocketErrorCode);
                continue;
            }
            try
            {
                client.NoDelay = true;
                return new Connection(this, client);
            }
            catch (SocketException exception)
            {
                // The client went away between connecting and being accepted.
                logger.LogDebug("TCP connection closed at once: {SocketError}", exception.SocketErrorCode);
                client.Dispose();
            }
        }
        return null;
    }

    private sealed class Connection(TcpQueryTransport transport, Socket socket) : IServerConnection
    {
        private readonly SemaphoreSlim writing = new(1, 1);
        private int unanswered;
        private int closing;
        private int disposed;

        public IServerTransport Transport => transport;
        public IPEndPoint RemoteEndPoint { get; } = (IPEndPoint)socket.RemoteEndPoint!;
        public IPEndPoint LocalEndPoint { get; } = (IPEndPoint)socket.LocalEndPoint!;
        public bool CanRead { get; private set; } = true;

        public Task<bool> InitializeAsync(CancellationToken token = default) => Task.FromResult(true);

        public async Task<DnsReceivedRawPackage?> ReceiveAsync(CancellationToken token = default)
        {
            var lengthBytes = new byte[2];
            if (!await ReadExactlyAsync(lengthBytes, IdleTimeout, token))
                return Hangup();
            var length = BinaryPrimitives.ReadUInt16BigEndian(lengthBytes);
            var packet = new byte[length + DnsRawPackage.LENGTH_HEADER_LENGTH];
            lengthBytes.CopyTo(packet, 0);
            if (!await ReadExactlyAsync(packet.AsMemory(DnsRawPackage.LENGTH_HEADER_LENGTH), ReadTimeout, token))
            {
                if (!token.IsCancellationRequested)
                {
                    DnsRewriteLog.Malformed(transport.Logger, "tcp", RemoteEndPoint, length, "cut short: the connection ended or stalled before the whole message came");
                    transport.Metrics.Malformed("cut_short");
                }
                return Hangup();
            }

            transport.Metrics.Query("tcp");
            var package = QueryPacket.Read(packet, RemoteEndPoint, LocalEndPoint, out var problem);
            if (package is null)
            {
                DnsRewriteLog.Malformed(transport.Logger, "tcp", RemoteEndPoint, length, problem!.Description);
                transport.Metrics.Malformed(problem.Reason);
                // The stream cannot be trusted past a message that is not one.
                return Hangup();
            }
            Interlocked.Increment(ref unanswered);
            return package;
        }

        private async Task<bool> ReadExactlyAsync(Memory<byte> buffer, TimeSpan timeout, CancellationToken token)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
            deadline.CancelAfter(timeout);
            try
            {
                var read = 0;
                while (read < buffer.Length)
                {
                    var count = await socket.ReceiveAsync(buffer[read..], SocketFlags.None, deadline.Token);
                    if (count == 0)
                        return false;
                    read += count;
                }
                return true;
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return false;
            }
        }

        private DnsReceivedRawPackage? Hangup()
        {
            CanRead = false;
            Interlocked.Exchange(ref closing, 1);
            if (Volatile.Read(ref unanswered) == 0)
                Dispose();
            else
                _ = Task.Delay(AnswerGrace).ContinueWith(_ => Dispose(), TaskScheduler.Default);
            return null;
        }

        public async Task<bool> SendAsync(DnsRawPackage package, CancellationToken token = default)
        {
            try
            {
                await writing.WaitAsync(token);
                try
                {
                    var segment = package.ToArraySegment(true);
                    var sent = 0;
                    while (sent < segment.Count)
                        sent += await socket.SendAsync(segment[sent..], SocketFlags.None, token);
                    return true;
                }
                finally
                {
                    writing.Release();
                }
            }
            catch (Exception exception) when (exception is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                return false;
            }
            finally
            {
                if (Interlocked.Decrement(ref unanswered) == 0 && Volatile.Read(ref closing) == 1)
                    Dispose();
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 1)
                return;
            socket.Dispose();
        }
    }
}
