using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Redis.Tests.Infrastructure;

/// <summary>
/// A real <c>redis-server</c> (Debian package <c>redis-server</c>) on 127.0.0.1, a free port and a temporary
/// directory, without persistence. It can be stopped and started again on the same port, as an outage.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private const string Executable = "/usr/bin/redis-server";
    private ServerProcess? _process;

    private RedisServer(string directory, int port)
    {
        Directory = directory;
        Port = port;
    }

    public string Directory { get; }

    public int Port { get; }

    /// <summary>The StackExchange.Redis configuration string of this server.</summary>
    public string Configuration => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)},connectTimeout=2000,syncTimeout=2000,asyncTimeout=2000";

    public static async Task<RedisServer> StartAsync()
    {
        if (!File.Exists(Executable))
        {
            Assert.Fail($"{Executable} is missing: install the Debian package redis-server (.ci/run does).");
        }

        var server = new RedisServer(System.IO.Directory.CreateTempSubdirectory("redis-test-").FullName, FreePort.Pick());
        await server.RunAsync();
        return server;
    }

    /// <summary>Starts the server (again, after <see cref="KillAsync"/>) and waits until it answers PING.</summary>
    public async Task RunAsync()
    {
        var start = new ProcessStartInfo(Executable) { WorkingDirectory = Directory };
        foreach (var argument in new[]
        {
            "--bind", "127.0.0.1", "--port", Port.ToString(CultureInfo.InvariantCulture), "--dir", Directory,
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
        })
        {
            start.ArgumentList.Add(argument);
        }

        _process = await ServerProcess.StartAsync(start, "redis-server", PingAsync, TimeSpan.FromSeconds(20), CancellationToken.None);
    }

    /// <summary>Kills the server, as a crash or a network cut would take it away.</summary>
    public async Task KillAsync()
    {
        if (Interlocked.Exchange(ref _process, null) is { } process)
        {
            await process.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        ServerProcess.DeleteDirectory(Directory);
    }

    private async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token);
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer, timeout.Token);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
