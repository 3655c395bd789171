using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace SparkConnect.Multiplexer.Testing;

/// <summary>
/// A real server a test runs as a child process (redis-server, slapd, ZooKeeper's JVM, an ASP.NET Core host): started,
/// waited on until a readiness probe says yes, its output kept for the failure message, and killed with its process tree.
/// </summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(10);
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly ConcurrentQueue<string> _output = new();
    private readonly List<Uri> _listening = [];
    private int _killed;

    private ServerProcess(Process process) => _process = process;

    /// <summary>What the server wrote to standard error so far.</summary>
    public string ErrorOutput => string.Join(Environment.NewLine, _errors);

    /// <summary>What the server wrote to standard output and standard error so far, in the order the lines arrived.</summary>
    public string Output => string.Join(Environment.NewLine, _output);

    /// <summary>The ports <see cref="StartOnFreePortsAsync"/> gave the server, in the order asked for; empty otherwise.</summary>
    public IReadOnlyList<int> Ports { get; private set; } = [];

    /// <summary>
    /// The addresses the server said it listens on (<c>Now listening on: http://127.0.0.1:41235</c> from Kestrel, or any
    /// line with <c>listening on</c> and a URL), in the order it printed them; see <see cref="StartListeningAsync"/>.
    /// </summary>
    public IReadOnlyList<Uri> ListeningAddresses
    {
        get
        {
            lock (_listening)
            {
                return [.. _listening];
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="start"/> and waits until <paramref name="isReady"/> answers true. Fails the test, with
    /// the server's output, when it exits first or is not ready within <paramref name="timeout"/>.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(ProcessStartInfo start, string name, Func<CancellationToken, Task<bool>> isReady, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(isReady);
        var (server, failure, _) = await TryStartAsync(start, name, (_, token) => isReady(token), timeout, cancellationToken);
        return server ?? throw new AssertFailedException(failure);
    }

    /// <summary>
    /// Starts an ASP.NET Core host (or any server that prints the URL it listens on) that was told to listen on port 0,
    /// and waits until it has printed <paramref name="addresses"/> listening addresses: the kernel chose free ports
    /// while the server bound them, so no other process can take them first (as it can between a test's probe for a
    /// free port and the server's bind). Kestrel prints them at Information level on the
    /// <c>Microsoft.Hosting.Lifetime</c> category, in the order of its endpoints.
    /// </summary>
    public static async Task<ServerProcess> StartListeningAsync(ProcessStartInfo start, string name, TimeSpan timeout, CancellationToken cancellationToken, int addresses = 1)
    {
        var (server, failure, _) = await TryStartAsync(start, name, (server, _) => Task.FromResult(server.ListeningAddresses.Count >= addresses), timeout, cancellationToken);
        return server ?? throw new AssertFailedException(failure);
    }

    /// <summary>
    /// Starts a server that cannot bind port 0 and say which port it got (ZooKeeper, slapd, redis-server with TLS, a
    /// host that routes by port number): <paramref name="start"/> gets <paramref name="ports"/> loopback ports that
    /// were free a moment ago. Another process may take one of them before the server binds it; the server then
    /// exits saying the address is in use, and this starts it again on new ports, so that race cannot fail a test.
    /// The server's <see cref="Ports"/> are the ones it got.
    /// </summary>
    public static async Task<ServerProcess> StartOnFreePortsAsync(
        int ports,
        Func<IReadOnlyList<int>, ProcessStartInfo> start,
        string name,
        Func<IReadOnlyList<int>, CancellationToken, Task<bool>> isReady,
        TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(isReady);
        for (var attempt = 1; ; attempt++)
        {
            var picked = FreePort.PickDistinct(ports);
            var (server, failure, exited) = await TryStartAsync(start(picked), name, (_, token) => isReady(picked, token), timeout, cancellationToken);
            if (server is not null)
            {
                server.Ports = picked;
                return server;
            }

            // Lost the race: the server says so (redis-server, slapd, Kestrel), or, as ZooKeeper without a logger
            // exits without a word, one of its ports is now held by someone else.
            var lost = exited && (failure.Contains("address already in use", StringComparison.OrdinalIgnoreCase) || picked.Any(p => !FreePort.IsFree(p)));
            if (attempt == 5 || !lost)
            {
                throw new AssertFailedException(failure);
            }
        }
    }

    /// <summary>The server once ready; otherwise null and why (it exited, with its output, or timed out).</summary>
    private static async Task<(ServerProcess? Server, string Failure, bool Exited)> TryStartAsync(ProcessStartInfo start, string name, Func<ServerProcess, CancellationToken, Task<bool>> isReady, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(start);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var server = new ServerProcess(Process.Start(start) ?? throw new InvalidOperationException($"{name} did not start."));
        server._process.OutputDataReceived += (_, e) => server.Received(e.Data, error: false);
        server._process.ErrorDataReceived += (_, e) => server.Received(e.Data, error: true);
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        try
        {
            var waited = Stopwatch.StartNew();
            while (true)
            {
                if (server._process.HasExited)
                {
                    // Every line it wrote before it went, for the message and for the caller's address-in-use check.
                    await server._process.WaitForExitAsync(cancellationToken);
                    var failure = $"{name} exited with code {server._process.ExitCode} at start-up: {server.Output}";
                    await server.DisposeAsync();
                    return (null, failure, true);
                }

                if (await isReady(server, cancellationToken))
                {
                    return (server, "", false);
                }

                if (waited.Elapsed > timeout)
                {
                    var failure = $"{name} was not ready within {timeout.TotalSeconds:F0} s: {server.Output}";
                    await server.DisposeAsync();
                    return (null, failure, false);
                }

                await Task.Delay(50, cancellationToken);
            }
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private void Received(string? line, bool error)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        if (error)
        {
            _errors.Enqueue(line);
        }

        if (ListeningOn().Match(line) is { Success: true } match)
        {
            // Once per address: a host may say it twice (the local engine host logs it, then prints it), on either stream.
            var address = new Uri(match.Groups["address"].Value);
            lock (_listening)
            {
                if (!_listening.Contains(address))
                {
                    _listening.Add(address);
                }
            }
        }
    }

    [GeneratedRegex(@"listening on:? (?<address>https?://[^\s/]+)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ListeningOn();

    /// <summary>A readiness probe: whether something accepts TCP connections on the loopback <paramref name="port"/>.</summary>
    public static async Task<bool> AcceptsConnectionsAsync(int port, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Deletes a test's temporary directory, leaving it when something still holds it.</summary>
    public static void DeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the OS's temp cleanup; a test must not fail over it.
        }
    }

    /// <summary>Kills the server and its children (as a crash would end it) and waits for it to exit.</summary>
    public async Task KillAsync()
    {
        if (Interlocked.Exchange(ref _killed, 1) == 1)
        {
            return;
        }

        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }

        using var timeout = new CancellationTokenSource(ExitWait);
        await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }
}
