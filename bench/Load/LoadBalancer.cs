using System.Net;
using System.Net.Sockets;
using DataWorkspace.TestSupport;

namespace DataWorkspace.Bench.Load;

/// <summary>
/// What a load balancer in front of the proxy replicas does for a user's new connection: it goes to a replica that
/// takes it. A connection to a replica's port that is refused (that replica is down) is made to the next replica instead;
/// a connection to any other port (the identity provider, S3) is made as asked.
/// </summary>
public static class LoadBalancer
{
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> Over(IReadOnlyList<int> replicaPorts) =>
        async (context, cancellationToken) =>
        {
            var first = replicaPorts.ToList().IndexOf(context.DnsEndPoint.Port);
            if (first < 0) return await PortalClient.ConnectToLoopbackAsync(context.DnsEndPoint, cancellationToken);
            for (var tried = 0; ; tried++)
            {
                var port = replicaPorts[(first + tried) % replicaPorts.Count];
                try
                {
                    return await PortalClient.ConnectToLoopbackAsync(new DnsEndPoint(context.DnsEndPoint.Host, port), cancellationToken);
                }
                catch (SocketException exception) when (exception.SocketErrorCode == SocketError.ConnectionRefused && tried + 1 < replicaPorts.Count)
                {
                    // That replica is down: the next one.
                }
            }
        };
}
