using System.Net;
using System.Net.Sockets;

namespace SparkConnect.Multiplexer.Testing;

/// <summary>
/// Loopback ports that were free a moment ago (bound to port 0 and released). Racy by nature: another process may take
/// one between the release and the server's bind. Prefer a server that binds port 0 itself and says where it listens
/// (<see cref="GatewayHost"/>, <see cref="ServerProcess.StartListeningAsync"/>), or a unix socket; a server that cannot
/// do either starts through <see cref="ServerProcess.StartOnFreePortsAsync"/>, which tries again on new ports when the
/// race is lost. For a port where nothing listens, use <see cref="ClosedPort"/>.
/// </summary>
public static class FreePort
{
    /// <summary><paramref name="count"/> distinct loopback ports nothing listens on right now.</summary>
    public static IReadOnlyList<int> PickDistinct(int count)
    {
        // Every listener stays open until all are chosen, so none is handed out twice.
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            listeners.ForEach(l => l.Dispose());
        }
    }

    /// <summary>Whether a listener could bind <paramref name="port"/> on loopback right now.</summary>
    public static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return false;
        }
    }
}
