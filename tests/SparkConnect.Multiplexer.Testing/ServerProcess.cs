using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace SparkConnect.Multiplexer.Testing;

/// <summary>
/// A real server a test runs as a child process (redis-server, slapd, ZooKeeper's JVM): started, waited on until a
/// readiness probe says yes, its standard error kept for the failure message, and killed with its process tree.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(10);
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _errors = new();
    private int _killed;

    private ServerProcess(Process process) => _process = process;

    /// <summary>What the server wrote to standard error so far.</summary>
    public string ErrorOutput => string.Join(Environment.NewLine, _errors);

    /// <summary>
    /// Starts <paramref name="start"/> and waits until <paramref name="isReady"/> answers true. Fails the test, with
    /// the server's standard error, when it exits first or is not ready within <paramref name="timeout"/>.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(ProcessStartInfo start, string name, Func<CancellationToken, Task<bool>> isReady, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(isReady);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var server = new ServerProcess(Process.Start(start) ?? throw new InvalidOperationException($"{name} did not start."));
        server._process.OutputDataReceived += static (_, _) => { };
        server._process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                server._errors.Enqueue(line);
            }
        };
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        try
        {
            var waited = Stopwatch.StartNew();
            while (true)
            {
                if (server._process.HasExited)
                {
                    Assert.Fail($"{name} exited with code {server._process.ExitCode} at start-up: {server.ErrorOutput}");
                }

                if (await isReady(cancellationToken))
                {
                    return server;
                }

                if (waited.Elapsed > timeout)
                {
                    Assert.Fail($"{name} was not ready within {timeout.TotalSeconds:F0} s: {server.ErrorOutput}");
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
