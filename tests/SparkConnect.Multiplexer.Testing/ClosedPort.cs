using System.Net;
using System.Net.Sockets;

namespace SparkConnect.Multiplexer.Testing;

/// <summary>
/// A loopback port where nothing listens, for as long as this lives: bound, never listening, so a connection to it is
/// refused. While it is bound the kernel gives the port to no one who binds port 0 (every server and free-port pick
/// in these tests), unlike a port picked and released. It is no lock: a process that binds this very number with
/// SO_REUSEADDR (.NET always sets it on Linux) could still listen there.
/// </summary>
public sealed class ClosedPort : IDisposable
{
    private readonly Socket _socket;

    public ClosedPort()
    {
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
    }

    public int Port { get; }

    public void Dispose() => _socket.Dispose();
}
