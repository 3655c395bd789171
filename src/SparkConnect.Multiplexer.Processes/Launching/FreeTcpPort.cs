using System.Net;
using System.Net.Sockets;

namespace SparkConnect.Multiplexer.Processes.Launching;

/// <summary>Picks a TCP port nothing listens on, for an engine to bind.</summary>
internal static class FreeTcpPort
{
    public static int Pick(string host)
    {
        var address = IPAddress.TryParse(host, out var parsed) ? parsed : IPAddress.Any;
        using var listener = new TcpListener(address, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
