using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;

/// <summary>
/// A real standalone ZooKeeper server (the Debian <c>zookeeper</c> package's jar, on Java) on a free loopback port with
/// a temporary data directory. ZooKeeper cannot bind port 0 and say which port it got, so its first start picks a free
/// port and, should another process take that port first, starts again on another (see
/// <see cref="ServerProcess.StartOnFreePortsAsync"/>); a restart keeps the port, as clients hold it. Disposing it kills the JVM and deletes the directory. A missing installation fails the
/// test with the packages to install.
/// </summary>
internal sealed class ZooKeeperServer : IAsyncDisposable
{
    private const string Jar = "/usr/share/java/zookeeper.jar";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private ServerProcess? _process;

    private ZooKeeperServer(string directory) => Directory = directory;

    public string Directory { get; }

    /// <summary>The client port, chosen at the first start.</summary>
    public int Port { get; private set; }

    public string ConnectionString => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public static async Task<ZooKeeperServer> StartAsync()
    {
        if (!File.Exists(Jar))
        {
            Assert.Fail($"ZooKeeper is not installed ({Jar} is missing): apt-get install -y zookeeper libzookeeper-mt2 (Java 17 is needed too).");
        }

        var directory = Path.Combine(Path.GetTempPath(), "zk-tests-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "data"));
        var server = new ZooKeeperServer(directory);
        try
        {
            await server.RunAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>Kills the server (no clean shutdown, as a crash); its data stays for <see cref="RunAsync"/>.</summary>
    public async Task KillAsync()
    {
        if (Interlocked.Exchange(ref _process, null) is { } process)
        {
            await process.DisposeAsync();
        }
    }

    /// <summary>Empties the data directory of a killed server, as a restore from nothing (its transaction ids start over).</summary>
    public void DeleteData()
    {
        var data = Path.Combine(Directory, "data");
        System.IO.Directory.Delete(data, recursive: true);
        System.IO.Directory.CreateDirectory(data);
    }

    /// <summary>
    /// Starts the server on its data directory and port (a free one at the first start) and waits until it answers
    /// <c>ruok</c>.
    /// </summary>
    public async Task RunAsync()
    {
        if (Port != 0)
        {
            _process = await ServerProcess.StartAsync(StartInfo(Port), "ZooKeeper", async _ => await FourLetterWordAsync("ruok") == "imok", StartTimeout, CancellationToken.None);
            return;
        }

        var process = await ServerProcess.StartOnFreePortsAsync(1, ports => StartInfo(ports[0]), "ZooKeeper", async (ports, _) => await FourLetterWordAsync(ports[0], "ruok") == "imok", StartTimeout, CancellationToken.None);
        Port = process.Ports[0];
        _process = process;
    }

    /// <summary>Writes the configuration for <paramref name="port"/> and says how to run the server on it.</summary>
    private ProcessStartInfo StartInfo(int port)
    {
        // tickTime 500 ms: sessions may time out between 1 s and 10 s.
        File.WriteAllText(Path.Combine(Directory, "zoo.cfg"), string.Join('\n',
            "tickTime=500",
            "initLimit=10",
            "syncLimit=5",
            $"dataDir={Path.Combine(Directory, "data")}",
            $"clientPort={port.ToString(CultureInfo.InvariantCulture)}",
            "clientPortAddress=127.0.0.1",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            "maxClientCnxns=0",
            ""));

        // Through a shell that kills the JVM when the test process goes away, however it ends.
        var start = new ProcessStartInfo("/bin/sh") { WorkingDirectory = Directory };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(
            "java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp \"$1\" org.apache.zookeeper.server.ZooKeeperServerMain \"$2\" & jvm=$!; "
            + "trap 'kill -9 $jvm 2>/dev/null; exit 0' TERM INT; "
            + "while kill -0 \"$3\" 2>/dev/null && kill -0 $jvm 2>/dev/null; do sleep 1; done; kill -9 $jvm 2>/dev/null; wait $jvm");
        start.ArgumentList.Add("zookeeper-test-server");
        start.ArgumentList.Add(Jar);
        start.ArgumentList.Add(Path.Combine(Directory, "zoo.cfg"));
        start.ArgumentList.Add(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        return start;
    }

    public Task<string?> FourLetterWordAsync(string word) => FourLetterWordAsync(Port, word);

    private static async Task<string?> FourLetterWordAsync(int port, string word)
    {
        // A server still starting may accept and never answer: every attempt is bounded.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(word), timeout.Token);
            using var reader = new StreamReader(stream, Encoding.ASCII);
            return await reader.ReadToEndAsync(timeout.Token);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        ServerProcess.DeleteDirectory(Directory);
    }
}
