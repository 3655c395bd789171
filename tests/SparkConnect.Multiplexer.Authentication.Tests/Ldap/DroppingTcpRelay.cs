using System.Net;
using System.Net.Sockets;

namespace SparkConnect.Multiplexer.Authentication.Tests.Ldap;

/// <summary>
/// A TCP relay on loopback in front of a real server that closes its first <c>dropFirst</c> connections as soon as
/// they arrive and relays the others byte for byte: a connection dropped the way a restarted server or a cut idle
/// connection drops it.
/// </summary>
internal sealed class DroppingTcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly int _targetPort;
    private readonly int _dropFirst;
    private readonly Task _accepting;
    private int _accepted;

    public DroppingTcpRelay(int targetPort, int dropFirst)
    {
        _targetPort = targetPort;
        _dropFirst = dropFirst;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Accepted => Volatile.Read(ref _accepted);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            if (Interlocked.Increment(ref _accepted) <= _dropFirst)
            {
                client.Client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using (client)
        using (var server = new TcpClient())
        {
            try
            {
                await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
                var up = client.GetStream().CopyToAsync(server.GetStream(), _stop.Token);
                var down = server.GetStream().CopyToAsync(client.GetStream(), _stop.Token);
                await Task.WhenAny(up, down);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // Either side went away: the relayed connection ends with it.
            }
        }
    }
}
