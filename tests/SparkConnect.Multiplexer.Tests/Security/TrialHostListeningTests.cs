using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using SparkConnect.Multiplexer.Testing;
using SparkConnect.Multiplexer.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.Tests.Security;

/// <summary>
/// Finding 10: the sample host in trial mode (no authentication) listens on loopback only; listening beyond it needs
/// an explicit opt-in, which is logged loudly. Runs the real sample host as its own process.
/// </summary>
[TestClass]
public sealed class TrialHostListeningTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task TrialMode_ListensOnLoopbackOnly()
    {
        var port = FreePort.Pick();
        await using var host = await ServerProcess.StartAsync(SampleHostProcess.StartInfo(port, "--SampleHost:EngineMode=Static"), "sample host", ct => CanConnectAsync(IPAddress.Loopback, port, ct), TimeSpan.FromSeconds(60), TestContext.CancellationToken);

        foreach (var address in NonLoopbackAddresses())
        {
            Assert.IsFalse(await CanConnectAsync(address, port, TestContext.CancellationToken), $"trial mode must not listen on {address}");
        }
    }

    [TestMethod]
    public async Task TrialModeOnEveryAddress_WithoutOptIn_StopsStartUp()
    {
        var (exitCode, output) = await SampleHostProcess.RunToExitAsync(TestContext.CancellationToken, "--SampleHost:EngineMode=Static", "--SampleHost:ListenAddress=0.0.0.0");

        Assert.AreNotEqual(0, exitCode);
        StringAssert.Contains(output, "SampleHost:AllowUnauthenticatedRemoteAccess");
    }

    [TestMethod]
    public async Task TrialModeOnEveryAddress_WithOptIn_ListensAndWarns()
    {
        var port = FreePort.Pick();
        var start = SampleHostProcess.StartInfo(port, "--SampleHost:EngineMode=Static", "--SampleHost:ListenAddress=0.0.0.0", "--SampleHost:AllowUnauthenticatedRemoteAccess=true");
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
        process.ErrorDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var waited = Stopwatch.StartNew();
            while (!output.Any(l => l.Contains("UNAUTHENTICATED ACCESS FROM THE NETWORK", StringComparison.Ordinal)) && waited.Elapsed < TimeSpan.FromSeconds(60) && !process.HasExited)
            {
                await Task.Delay(100, TestContext.CancellationToken);
            }

            Assert.IsTrue(output.Any(l => l.Contains("UNAUTHENTICATED ACCESS FROM THE NETWORK", StringComparison.Ordinal)), string.Join('\n', output));
            foreach (var address in NonLoopbackAddresses())
            {
                // The warning comes before Kestrel starts listening: give it a moment.
                var listening = false;
                for (var attempt = 0; attempt < 60 && !listening; attempt++)
                {
                    listening = await CanConnectAsync(address, port, TestContext.CancellationToken);
                    if (!listening)
                    {
                        await Task.Delay(250, TestContext.CancellationToken);
                    }
                }

                Assert.IsTrue(listening, $"opted in: listens on {address}");
            }
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }
    }

    /// <summary>This machine's non-loopback IPv4 addresses; the tests need one, or they could not fail.</summary>
    private static List<IPAddress> NonLoopbackAddresses()
    {
        var addresses = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            .ToList();
        Assert.IsNotEmpty(addresses, "The trial-host tests need a non-loopback IPv4 address on this machine to probe.");
        return addresses;
    }

    private static async Task<bool> CanConnectAsync(IPAddress address, int port, CancellationToken cancellationToken)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await socket.ConnectAsync(address, port, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
