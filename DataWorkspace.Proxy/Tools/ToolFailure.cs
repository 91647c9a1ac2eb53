using System.Net.Sockets;
using DataWorkspace.Proxy.Forwarding;
using Yarp.ReverseProxy.Forwarder;

namespace DataWorkspace.Proxy.Tools;

/// <summary>
/// Why forwarding to a tool failed, in words for the page and the log (<see cref="Reason"/>), and whether the tool is
/// gone (<see cref="Gone"/>: it cannot be connected to) or is still there and answered badly or slowly.
/// </summary>
internal readonly record struct ToolFailure(bool Gone, string Reason)
{
    /// <summary>
    /// A refused connection says the tool is gone. A connection lost under a request (reset, or closed before any
    /// answer: what a tool's death does to a kept-alive connection) says nothing either way, so a new connection to
    /// the tool's address decides; nothing is sent on it, and the request itself is never sent again.
    /// </summary>
    public static async ValueTask<ToolFailure> OfAsync(ForwarderError error, Exception? exception, string destination, TimeSpan connectTimeout, CancellationToken cancellationToken)
    {
        var reason = ReasonFor(error, exception);
        if (exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError }) return new(true, reason);
        if (!LostConnection(exception)) return new(false, reason);
        return await RefusedAsync(new Uri(destination), connectTimeout, cancellationToken) is { } refused ? new(true, refused.ToString()) : new(false, reason);
    }

    /// <summary>The socket error behind the failure if there is one, else what went wrong in HTTP's or the forwarder's terms.</summary>
    internal static string ReasonFor(ForwarderError error, Exception? exception)
    {
        if (exception.Causes().OfType<SocketException>().FirstOrDefault() is { } socket) return socket.SocketErrorCode.ToString();
        return exception.Causes().OfType<HttpRequestException>().FirstOrDefault() is { HttpRequestError: not HttpRequestError.Unknown and var http }
            ? http.ToString()
            : error.ToString();
    }

    /// <summary>The connection went away under the request: reset, aborted, or ended before a whole answer came.</summary>
    internal static bool LostConnection(Exception? exception) => exception.Causes().Any(cause => cause
        is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown or SocketError.NotConnected }
        or HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded }
        or HttpIOException { HttpRequestError: HttpRequestError.ResponseEnded });

    /// <summary>
    /// The socket error of a new connection to the tool's address (refused, unreachable), or null when it connected
    /// (someone is listening) or neither happened within <paramref name="connectTimeout"/>, as the forwarding's own
    /// connection would have been given up.
    /// </summary>
    private static async Task<SocketError?> RefusedAsync(Uri destination, TimeSpan connectTimeout, CancellationToken cancellationToken)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(connectTimeout);
        try
        {
            await socket.ConnectAsync(destination.IdnHost, destination.Port, timeout.Token);
            return null;
        }
        catch (SocketException refused)
        {
            return refused.SocketErrorCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
