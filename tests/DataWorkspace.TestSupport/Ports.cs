using System.Net;
using System.Net.Sockets;

namespace DataWorkspace.TestSupport;

public static class Ports
{
    /// <summary>A loopback TCP port that is free now.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
