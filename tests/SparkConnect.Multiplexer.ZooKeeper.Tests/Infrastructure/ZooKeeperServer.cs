using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;

/// <summary>
/// A real standalone ZooKeeper server (the Debian <c>zookeeper</c> package's jar, on Java) on a free loopback port with
/// a temporary data directory. Disposing it kills the JVM and deletes the directory. A missing installation fails the
/// test with the packages to install.
/// </summary>
internal sealed class ZooKeeperServer : IAsyncDisposable
{
    private const string Jar = "/usr/share/java/zookeeper.jar";

    private ServerProcess? _process;

    private ZooKeeperServer(string directory, int port)
    {
        Directory = directory;
        Port = port;
    }

    public string Directory { get; }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public static async Task<ZooKeeperServer> StartAsync()
    {
        if (!File.Exists(Jar))
        {
            Assert.Fail($"ZooKeeper is not installed ({Jar} is missing): apt-get install -y zookeeper libzookeeper-mt2 (Java 17 is needed too).");
        }

        var directory = Path.Combine(Path.GetTempPath(), "zk-tests-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "data"));
        var server = new ZooKeeperServer(directory, Testing.FreePort.Pick());
        // tickTime 500 ms: sessions may time out between 1 s and 10 s.
        await File.WriteAllTextAsync(Path.Combine(directory, "zoo.cfg"), string.Join('\n',
            "tickTime=500",
            "initLimit=10",
            "syncLimit=5",
            $"dataDir={Path.Combine(directory, "data")}",
            $"clientPort={server.Port}",
            "clientPortAddress=127.0.0.1",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            "maxClientCnxns=0",
            ""));
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

    /// <summary>Starts the server on its port and data directory and waits until it answers <c>ruok</c>.</summary>
    public async Task RunAsync()
    {
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
        _process = await ServerProcess.StartAsync(start, "ZooKeeper", async _ => await FourLetterWordAsync("ruok") == "imok", TimeSpan.FromSeconds(30), CancellationToken.None);
    }

    public async Task<string?> FourLetterWordAsync(string word)
    {
        // A server still starting may accept and never answer: every attempt is bounded.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port, timeout.Token);
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
