using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Redis.Tests.Infrastructure;

/// <summary>
/// A real <c>redis-server</c> (Debian package <c>redis-server</c>) in a temporary directory, without persistence,
/// listening on a unix socket in that directory (no TCP port, so nothing to pick and nothing another process can take);
/// with TLS, which Redis serves on TCP only, on 127.0.0.1 and a free port. It can be stopped and started again on the
/// same socket or port, as an outage.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private const string Executable = "/usr/bin/redis-server";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private ServerProcess? _process;

    private readonly string[] _extraArguments;

    private RedisServer(string directory, string[] extraArguments, string configurationSuffix)
    {
        Directory = directory;
        _extraArguments = extraArguments;
        ConfigurationSuffix = configurationSuffix;
    }

    private string ConfigurationSuffix { get; }

    public string Directory { get; }

    /// <summary>The TCP port of a TLS server, chosen at its first start; 0 for one on the unix socket.</summary>
    private int Port { get; set; }

    private string SocketPath => Path.Combine(Directory, "redis.sock");

    /// <summary>
    /// Where clients reach the server: the unix socket's path after a '!' (how a StackExchange.Redis configuration
    /// string names a unix socket), or 127.0.0.1:port with TLS.
    /// </summary>
    public string Endpoint => Tls ? $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}" : "!" + SocketPath;

    /// <summary>The StackExchange.Redis configuration string of this server.</summary>
    public string Configuration => $"{Endpoint},connectTimeout=2000,syncTimeout=2000,asyncTimeout=2000{ConfigurationSuffix}";

    /// <summary>
    /// <see cref="Configuration"/> for tests that keep Redis up and check what the store does, not how fast: with other
    /// test projects on the same two cores a command once took 4 s, past the 2 s the outage tests rely on, and the
    /// gateway then took Redis for down. Later keys win.
    /// </summary>
    public string SteadyConfiguration => Configuration + ",syncTimeout=15000,asyncTimeout=15000";

    /// <param name="extraArguments">More redis-server arguments, e.g. <c>--requirepass</c>.</param>
    public static async Task<RedisServer> StartAsync(params string[] extraArguments)
    {
        var server = Create(extraArguments, "", static _ => []);
        await server.RunAsync();
        return server;
    }

    /// <summary>
    /// A server that speaks only TLS, with a certificate for 127.0.0.1 issued by a CA made for the test; the CA's PEM
    /// file is <c>ca.pem</c> in <see cref="Directory"/>, and <see cref="Configuration"/> has <c>ssl=true</c>.
    /// </summary>
    public static async Task<RedisServer> StartTlsAsync()
    {
        var server = Create([], ",ssl=true", directory =>
        {
            using var ca = TestCertificates.CreateCa("redis test CA");
            using var certificate = TestCertificates.CreateServer(ca);
            File.WriteAllText(Path.Combine(directory, "ca.pem"), TestCertificates.Pem(ca));
            File.WriteAllText(Path.Combine(directory, "server.pem"), TestCertificates.Pem(certificate));
            File.WriteAllText(Path.Combine(directory, "server.key"), TestCertificates.PrivateKeyPem(certificate));
            return ["--tls-cert-file", "server.pem", "--tls-key-file", "server.key", "--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no"];
        });
        await server.RunAsync();
        return server;
    }

    private static RedisServer Create(string[] extraArguments, string configurationSuffix, Func<string, string[]> prepare)
    {
        if (!File.Exists(Executable))
        {
            Assert.Fail($"{Executable} is missing: install the Debian package redis-server (.ci/run does).");
        }

        var directory = System.IO.Directory.CreateTempSubdirectory("redis-test-").FullName;
        var tls = prepare(directory);
        return new RedisServer(directory, [.. tls, .. extraArguments], configurationSuffix);
    }

    private bool Tls => ConfigurationSuffix.Contains("ssl=true", StringComparison.Ordinal);

    /// <summary>Starts the server (again, after <see cref="KillAsync"/>) and waits until it answers PING.</summary>
    public async Task RunAsync()
    {
        if (!Tls)
        {
            _process = await ServerProcess.StartAsync(StartInfo(["--port", "0", "--unixsocket", SocketPath, "--unixsocketperm", "700"]), "redis-server", PingAsync, StartTimeout, CancellationToken.None);
        }
        else if (Port != 0)
        {
            _process = await ServerProcess.StartAsync(StartInfo(TlsPort(Port)), "redis-server", ListeningAsync, StartTimeout, CancellationToken.None);
        }
        else
        {
            // Redis cannot serve TLS on a unix socket, nor bind port 0 and say which port it got: a free port, and
            // another one should a different process take it first (Redis then exits: address already in use).
            var process = await ServerProcess.StartOnFreePortsAsync(1, ports => StartInfo(TlsPort(ports[0])), "redis-server", (ports, token) => ServerProcess.AcceptsConnectionsAsync(ports[0], token), StartTimeout, CancellationToken.None);
            Port = process.Ports[0];
            _process = process;
        }
    }

    private static string[] TlsPort(int port) => ["--port", "0", "--tls-port", port.ToString(CultureInfo.InvariantCulture)];

    private ProcessStartInfo StartInfo(string[] listen)
    {
        var start = new ProcessStartInfo(Executable) { WorkingDirectory = Directory };
        foreach (var argument in new[]
        {
            "--bind", "127.0.0.1", "--dir", Directory,
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
        }.Concat(listen).Concat(_extraArguments))
        {
            start.ArgumentList.Add(argument);
        }

        return start;
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

    /// <summary>Sends one command over the unix socket (not for a TLS server); returns Redis's first reply line.</summary>
    public async Task<string> CommandAsync(string command, CancellationToken cancellationToken)
    {
        using var socket = await ConnectAsync(cancellationToken);
        await using var stream = new NetworkStream(socket);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"), cancellationToken);
        var buffer = new byte[256];
        var read = await stream.ReadAsync(buffer, cancellationToken);
        return Encoding.ASCII.GetString(buffer, 0, read).TrimEnd();
    }

    private Task<bool> ListeningAsync(CancellationToken cancellationToken) => ServerProcess.AcceptsConnectionsAsync(Port, cancellationToken);

    private async Task<Socket> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath), cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            using var socket = await ConnectAsync(timeout.Token);
            await using var stream = new NetworkStream(socket);
            await stream.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token);
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer, timeout.Token);
            var reply = Encoding.ASCII.GetString(buffer, 0, read);

            // A server with a password answers NOAUTH: it is up all the same.
            return reply.StartsWith("+PONG", StringComparison.Ordinal) || reply.StartsWith("-NOAUTH", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
