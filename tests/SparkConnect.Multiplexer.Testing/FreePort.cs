using System.Net;
using System.Net.Sockets;

namespace SparkConnect.Multiplexer.Testing;

public static class FreePort
{
    /// <summary>A loopback port nothing listens on right now.</summary>
    public static int Pick()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
