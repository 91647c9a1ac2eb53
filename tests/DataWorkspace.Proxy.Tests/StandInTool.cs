using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace DataWorkspace.Proxy.Tests;

/// <summary>What a stand-in tool does with the next request that reaches it.</summary>
public enum NextRequest
{
    /// <summary>Answers 200, keeping the connection open for the next request.</summary>
    Answer,

    /// <summary>Answers 200 after a pause, as a busy tool does.</summary>
    AnswerAfterAPause,

    /// <summary>
    /// The process is killed as the request arrives, before reading it: its sockets close, listener first, and the
    /// kernel resets a connection that holds unread bytes.
    /// </summary>
    DieWithTheRequestUnread,

    /// <summary>The process is killed after reading the whole request, body included: its sockets close, listener first.</summary>
    DieAfterReadingIt,

    /// <summary>As <see cref="DieAfterReadingIt"/>, and a new process takes the port at once (a tool started again).</summary>
    DieAfterReadingItAndStartAgain,

    /// <summary>Reads the request and resets the connection, still listening: alive, but it dropped this request.</summary>
    ResetButKeepListening,
}

/// <summary>
/// A user's tool process as the proxy meets it: HTTP/1.1 on a loopback port over raw sockets, so that a test decides
/// what happens to each request down to the connection, including the process dying under a kept-alive connection.
/// </summary>
public sealed class StandInTool : IAsyncDisposable
{
    private static readonly byte[] EndOfHead = "\r\n\r\n"u8.ToArray();
    private readonly CancellationTokenSource stopping = new();
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly List<Socket> connections = [];
    private TcpListener? nextProcess;
    private readonly List<Socket> nextProcessConnections = [];
    private int bytesToNextProcess;
    private int accepted;

    public StandInTool()
    {
        // So that a process started in its place can take the port while the dead one's connections still hold it.
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        _ = AcceptAsync(listener, connections, ServeAsync);
    }

    public int Port { get; }

    public string Address => $"http://127.0.0.1:{Port}";

    public NextRequest Next { get; set; } = NextRequest.Answer;

    /// <summary>Each request the tool read in full: its request line, then its body.</summary>
    public ConcurrentQueue<string> Received { get; } = new();

    /// <summary>The connections the tool accepted (a new one each time the proxy's pool had none to reuse).</summary>
    public int Connections => Volatile.Read(ref accepted);

    /// <summary>Bytes that reached the process started in a dead one's place (<see cref="NextRequest.DieAfterReadingItAndStartAgain"/>).</summary>
    public int BytesToNextProcess => Volatile.Read(ref bytesToNextProcess);

    private async Task AcceptAsync(TcpListener on, List<Socket> into, Func<Socket, Task> serve)
    {
        try
        {
            while (true)
            {
                var socket = await on.AcceptSocketAsync(stopping.Token);
                lock (into) into.Add(socket);
                _ = serve(socket);
            }
        }
        catch (Exception stopped) when (stopped is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        Interlocked.Increment(ref accepted);
        var buffer = new byte[64 * 1024];
        var filled = 0;
        try
        {
            while (true)
            {
                // Wait for the next request without taking it off the socket: the process may die with it unread.
                if (await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.Peek, stopping.Token) == 0) return;
                var next = Next;
                if (next == NextRequest.DieWithTheRequestUnread)
                {
                    Die();
                    return;
                }

                int headEnd;
                while ((headEnd = buffer.AsSpan(0, filled).IndexOf(EndOfHead)) < 0)
                {
                    var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, stopping.Token);
                    if (read == 0) return;
                    filled += read;
                }

                var head = Encoding.ASCII.GetString(buffer, 0, headEnd);
                var length = head.Split("\r\n").Where(line => line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                    .Select(line => int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();
                var requestEnd = headEnd + EndOfHead.Length + length;
                while (filled < requestEnd)
                {
                    var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, stopping.Token);
                    if (read == 0) return;
                    filled += read;
                }

                Received.Enqueue(head[..head.IndexOf("\r\n", StringComparison.Ordinal)] + "\n" + Encoding.UTF8.GetString(buffer, headEnd + EndOfHead.Length, length));
                buffer.AsSpan(requestEnd, filled - requestEnd).CopyTo(buffer);
                filled -= requestEnd;

                switch (next)
                {
                    case NextRequest.DieAfterReadingIt:
                        Die();
                        return;
                    case NextRequest.DieAfterReadingItAndStartAgain:
                        StartAgain();
                        Die();
                        return;
                    case NextRequest.ResetButKeepListening:
                        socket.LingerState = new LingerOption(true, 0);
                        socket.Close();
                        return;
                    case NextRequest.AnswerAfterAPause:
                        await Task.Delay(TimeSpan.FromSeconds(1), stopping.Token);
                        break;
                }

                var body = $"The tool's page, request {Received.Count}";
                await socket.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n\r\n{body}"), SocketFlags.None, stopping.Token);
            }
        }
        catch (Exception ended) when (ended is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    /// <summary>What a killed process's sockets do: the listener closes, then every connection (reset if it held unread bytes).</summary>
    private void Die()
    {
        listener.Stop();
        lock (connections)
            foreach (var connection in connections)
                connection.Close();
    }

    private void StartAgain()
    {
        listener.Stop();
        nextProcess = new TcpListener(IPAddress.Loopback, Port);
        nextProcess.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        nextProcess.Start();
        _ = AcceptAsync(nextProcess, nextProcessConnections, async socket =>
        {
            var buffer = new byte[4096];
            try
            {
                for (int read; (read = await socket.ReceiveAsync(buffer, SocketFlags.None, stopping.Token)) > 0;)
                    Interlocked.Add(ref bytesToNextProcess, read);
            }
            catch (Exception ended) when (ended is SocketException or ObjectDisposedException or OperationCanceledException)
            {
            }
        });
    }

    public ValueTask DisposeAsync()
    {
        stopping.Cancel();
        listener.Stop();
        nextProcess?.Stop();
        foreach (var process in new[] { connections, nextProcessConnections })
            lock (process)
                foreach (var connection in process)
                    connection.Dispose();
        stopping.Dispose();
        return ValueTask.CompletedTask;
    }
}
