using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.ZooKeeper.Client;
using SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Registration;

[TestClass]
public sealed class RecoveryTests
{
    [TestMethod]
    public async Task Gateway_Started_RegistersServerUriNode()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var gateway = await ZooKeeperGateway.StartAsync(server);
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);

        var nodes = await WaitForGatewayNodesAsync(zk, 1);

        StringAssert.StartsWith(nodes[0], $"serverUri={gateway.Host.Address.Host}:{gateway.Host.Address.Port};version=");
        StringAssert.Matches(nodes[0], new System.Text.RegularExpressions.Regex(";sequence=[0-9]{10}$"));
    }

    [TestMethod]
    public async Task Gateway_Stopped_ItsNodeIsGone()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        var gateway = await ZooKeeperGateway.StartAsync(server);
        try
        {
            await WaitForGatewayNodesAsync(zk, 1);
        }
        finally
        {
            await gateway.DisposeAsync();
        }

        Assert.IsEmpty((await zk.GetChildrenAsync(ZooKeeperGateway.GatewayNamespace, null, CancellationToken.None))!);
    }

    [TestMethod]
    public async Task Gateway_SessionExpired_RegistrationAndWatchesRestored()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-after-expiry");
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        await using var gateway = await ZooKeeperGateway.StartAsync(server);
        var before = (await WaitForGatewayNodesAsync(zk, 1))[0];
        await ArmAliceSpaceAsync(gateway);

        var client = gateway.ZooKeeper;
        var expired = false;
        for (var attempt = 0; attempt < 5 && !expired; attempt++)
        {
            // Closing the session from a second connection; the gateway's client may win the session back before the
            // close arrives, so try again until it sees the expiry.
            await ZooKeeperClient.ExpireSessionAsync(server.ConnectionString, client.SessionId, client.SessionPassword, TimeSpan.FromSeconds(10), CancellationToken.None);
            expired = await Polling.EventuallyAsync(() => Task.FromResult(client.SessionCount >= 2), TimeSpan.FromSeconds(5));
        }

        Assert.IsTrue(expired, "no new session");
        Assert.IsTrue(await Polling.EventuallyAsync(
            async () => await zk.GetChildrenAsync(ZooKeeperGateway.GatewayNamespace, null, CancellationToken.None) is [var only] && only != before,
            TimeSpan.FromSeconds(10)), "the gateway node was not re-created");
        await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:1", $"sparkConnectPort={engine.Address.Port}");
        Assert.IsTrue(await ReachesAsync(gateway, "engine-after-expiry"), "the engine space watch was not re-armed");
    }

    [TestMethod]
    public async Task Gateway_ZooKeeperRestarted_RegistrationAndWatchesRestored()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-after-restart");
        await using var gateway = await ZooKeeperGateway.StartAsync(server);
        await using (var zk = await ZooKeeperGateway.ConnectAsync(server))
        {
            await WaitForGatewayNodesAsync(zk, 1);
        }

        await ArmAliceSpaceAsync(gateway);

        await server.KillAsync();
        // The gateway's client has to notice the loss (not merely be slow to) for this to test a reconnect.
        Assert.IsTrue(await Polling.EventuallyAsync(() => gateway.ZooKeeper.DisconnectedFor is not null, TimeSpan.FromSeconds(20)), "the gateway did not notice ZooKeeper going");
        await server.RunAsync();

        await using var after = await ZooKeeperGateway.ConnectAsync(server);
        await WaitForGatewayNodesAsync(after, 1);
        await ZooKeeperGateway.RegisterEngineAsync(after, "alice", "127.0.0.1:1", $"sparkConnectPort={engine.Address.Port}");
        Assert.IsTrue(await ReachesAsync(gateway, "engine-after-restart"), "the engine space watch was not restored");
    }

    [TestMethod]
    public async Task Gateway_ZooKeeperRestoredWithEmptyData_NewSessionRegistrationAndWatchesRestored()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-after-restore");
        await using var gateway = await ZooKeeperGateway.StartAsync(server);
        await using (var zk = await ZooKeeperGateway.ConnectAsync(server))
        {
            await WaitForGatewayNodesAsync(zk, 1);

            // Transactions the gateway sees (in its own replies and pings), so its last zxid is well above a new
            // server's: the restored ensemble refuses its old session ("client has seen zxid ..."), whatever else it does.
            for (var i = 0; i < 30; i++)
            {
                await zk.CreateAsync("/filler-" + i, null, ZooKeeperNative.Persistent, createParents: false, CancellationToken.None);
            }
        }

        await ArmAliceSpaceAsync(gateway);
        var sessions = gateway.ZooKeeper.SessionCount;

        await server.KillAsync();
        server.DeleteData();
        await server.RunAsync();

        await using var after = await ZooKeeperGateway.ConnectAsync(server);
        await WaitForGatewayNodesAsync(after, 1);
        Assert.AreEqual(sessions + 1, gateway.ZooKeeper.SessionCount, "one new session");
        Assert.IsTrue(gateway.Host.Logs.Entries.Any(e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning && e.Message.Contains("giving session", StringComparison.Ordinal)), "a warning says the session was given up");
        await ZooKeeperGateway.RegisterEngineAsync(after, "alice", "127.0.0.1:1", $"sparkConnectPort={engine.Address.Port}");
        Assert.IsTrue(await ReachesAsync(gateway, "engine-after-restore"), "the engine space watch was not restored");
    }

    [TestMethod]
    public async Task Health_ZooKeeperLost_UnhealthyThenHealthyWhenBack()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var gateway = await ZooKeeperGateway.StartAsync(server, o => o.ConnectionTimeout = TimeSpan.FromSeconds(2));
        var health = gateway.Host.Services.GetRequiredService<HealthCheckService>();
        Assert.AreEqual(HealthStatus.Healthy, await ZooKeeperStatusAsync(health));

        await server.KillAsync();
        Assert.IsTrue(await Polling.EventuallyAsync(async () => await ZooKeeperStatusAsync(health) == HealthStatus.Unhealthy, TimeSpan.FromSeconds(30)), "unhealthy without ZooKeeper");
        var report = await health.CheckHealthAsync(CancellationToken.None);
        StringAssert.Contains(report.Entries["zookeeper"].Description, "No connection to ZooKeeper");

        await server.RunAsync();
        Assert.IsTrue(await Polling.EventuallyAsync(async () => await ZooKeeperStatusAsync(health) == HealthStatus.Healthy, TimeSpan.FromSeconds(30)), "healthy again");
    }

    private static async Task<HealthStatus> ZooKeeperStatusAsync(HealthCheckService health)
        => (await health.CheckHealthAsync(r => r.Name == "zookeeper", CancellationToken.None)).Entries["zookeeper"].Status;

    private static async Task ArmAliceSpaceAsync(ZooKeeperGateway gateway)
    {
        // A first call for the key reads its (empty) space and watches it.
        var error = await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString()));
        Assert.AreEqual(StatusCode.Unavailable, error.StatusCode);
    }

    private static Task<bool> ReachesAsync(ZooKeeperGateway gateway, string engine) => Polling.EventuallyAsync(
        async () =>
        {
            try
            {
                return await gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString()) == engine;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
            {
                return false;
            }
        },
        TimeSpan.FromSeconds(20));

    private static async Task<string[]> WaitForGatewayNodesAsync(ZooKeeperClient zk, int count)
    {
        string[]? nodes = null;
        Assert.IsTrue(
            await Polling.EventuallyAsync(
                async () => (nodes = await zk.GetChildrenAsync(ZooKeeperGateway.GatewayNamespace, null, CancellationToken.None)) is not null && nodes.Length == count,
                TimeSpan.FromSeconds(20)),
            $"expected {count} gateway node(s), found {nodes?.Length ?? 0}");
        return nodes!;
    }
}
