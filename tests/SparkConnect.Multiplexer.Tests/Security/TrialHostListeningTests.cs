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
        await using var host = await SampleHostProcess.StartAsync(TestContext.CancellationToken, "--SampleHost:EngineMode=Static");
        var port = host.ListeningAddresses.Single().Port;

        Assert.IsTrue(await CanConnectAsync(IPAddress.Loopback, port, TestContext.CancellationToken), "listens on loopback");
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
        await using var host = await SampleHostProcess.StartAsync(TestContext.CancellationToken, "--SampleHost:EngineMode=Static", "--SampleHost:ListenAddress=0.0.0.0", "--SampleHost:AllowUnauthenticatedRemoteAccess=true");
        var port = host.ListeningAddresses.Single().Port;

        // The warning comes before Kestrel listens, so it is in the output by now.
        StringAssert.Contains(host.Output, "UNAUTHENTICATED ACCESS FROM THE NETWORK");
        foreach (var address in NonLoopbackAddresses())
        {
            Assert.IsTrue(await CanConnectAsync(address, port, TestContext.CancellationToken), $"opted in: listens on {address}");
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
