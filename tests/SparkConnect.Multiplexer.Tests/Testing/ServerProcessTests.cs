using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Testing;

/// <summary>The shared test infrastructure's port handling, with real (tiny) processes.</summary>
[TestClass]
public sealed class ServerProcessTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task StartListeningAsync_ReadsTheAddressesTheServerPrints()
    {
        await using var server = await ServerProcess.StartListeningAsync(
            Shell("echo 'info: Microsoft.Hosting.Lifetime[14]'; echo '      Now listening on: http://127.0.0.1:41235'; echo 'Now listening on: http://127.0.0.1:41236'; exec sleep 60"),
            "printer",
            TimeSpan.FromSeconds(30),
            TestContext.CancellationToken,
            addresses: 2);

        CollectionAssert.AreEqual(new[] { new Uri("http://127.0.0.1:41235"), new Uri("http://127.0.0.1:41236") }, server.ListeningAddresses.ToArray());
    }

    [TestMethod]
    public async Task StartOnFreePortsAsync_AddressInUse_StartsAgainOnNewPorts()
    {
        var given = new List<IReadOnlyList<int>>();
        await using var server = await ServerProcess.StartOnFreePortsAsync(
            2,
            ports =>
            {
                given.Add(ports);
                return given.Count == 1 ? Shell("echo 'bind: Address already in use' >&2; exit 1") : Shell("exec sleep 60");
            },
            "server",
            (_, _) => Task.FromResult(given.Count == 2),
            TimeSpan.FromSeconds(30),
            TestContext.CancellationToken);

        Assert.HasCount(2, given);
        Assert.HasCount(2, given[1]);
        Assert.AreNotEqual(given[1][0], given[1][1], "distinct ports");
        CollectionAssert.AreEqual(given[1].ToArray(), server.Ports.ToArray());
    }

    [TestMethod]
    public async Task StartOnFreePortsAsync_PortTakenAndServerSilent_StartsAgain()
    {
        // ZooKeeper without a logger exits without a word when its port is taken.
        TcpListener? thief = null;
        var attempts = 0;
        try
        {
            await using var server = await ServerProcess.StartOnFreePortsAsync(
                1,
                ports =>
                {
                    if (++attempts == 1)
                    {
                        thief = new TcpListener(IPAddress.Loopback, ports[0]);
                        thief.Start();
                        return Shell("exit 1");
                    }

                    return Shell("exec sleep 60");
                },
                "server",
                (_, _) => Task.FromResult(attempts == 2),
                TimeSpan.FromSeconds(30),
                TestContext.CancellationToken);

            Assert.AreEqual(2, attempts);
            Assert.AreNotEqual(((IPEndPoint)thief!.LocalEndpoint).Port, server.Ports[0]);
        }
        finally
        {
            thief?.Dispose();
        }
    }

    [TestMethod]
    public async Task StartOnFreePortsAsync_OtherFailure_FailsAtOnceWithTheOutput()
    {
        var attempts = 0;
        var failure = await Assert.ThrowsExactlyAsync<AssertFailedException>(() => ServerProcess.StartOnFreePortsAsync(
            1,
            _ =>
            {
                attempts++;
                return Shell("echo 'no such option' >&2; exit 2");
            },
            "server",
            (_, _) => Task.FromResult(false),
            TimeSpan.FromSeconds(30),
            TestContext.CancellationToken));

        Assert.AreEqual(1, attempts);
        StringAssert.Contains(failure.Message, "no such option");
    }

    [TestMethod]
    public async Task ClosedPort_RefusesConnections()
    {
        using var closed = new ClosedPort();

        using var client = new TcpClient();
        var refused = await Assert.ThrowsExactlyAsync<SocketException>(() => client.ConnectAsync(IPAddress.Loopback, closed.Port, TestContext.CancellationToken).AsTask());

        Assert.AreEqual(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    private static ProcessStartInfo Shell(string script) => new("/bin/sh") { ArgumentList = { "-c", script } };
}
