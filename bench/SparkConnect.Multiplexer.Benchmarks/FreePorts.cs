using System.Net;
using System.Net.Sockets;

namespace SparkConnect.Multiplexer.Benchmarks;

/// <summary>
/// Loopback ports for the servers of the bench that cannot bind port 0 and say which port they got (nginx, redis-server,
/// the sample host, whose management endpoint is routed by port number). The bench's own children bind port 0 and print
/// their addresses (<see cref="ChildProcess"/>); only these servers get a port that was free a moment ago, and another
/// process can take it before they bind it, so <see cref="StartAsync"/> starts them again on new ports when they lose it.
/// </summary>
internal static class FreePorts
{
    private const int Attempts = 5;

    /// <summary>Distinct free ports: every listener stays open until all are chosen, so none is handed out twice.</summary>
    public static List<int> Pick(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToList();
        }
        finally
        {
            listeners.ForEach(l => l.Dispose());
        }
    }

    /// <summary>
    /// Starts a server on <paramref name="count"/> picked ports; when <paramref name="start"/> fails with the server's
    /// output saying an address is in use (it lost the race for a port), starts it again on new ports.
    /// </summary>
    public static async Task<T> StartAsync<T>(int count, Func<IReadOnlyList<int>, Task<T>> start)
    {
        ArgumentNullException.ThrowIfNull(start);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await start(Pick(count));
            }
            catch (InvalidOperationException e) when (attempt < Attempts && e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                Console.WriteLine($"   lost a picked port to another process, starting again on new ports: {e.Message}");
            }
        }
    }
}
