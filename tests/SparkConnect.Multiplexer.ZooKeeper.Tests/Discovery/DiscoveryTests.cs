using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.ZooKeeper.Discovery;
using SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Discovery;

[TestClass]
public sealed class DiscoveryTests
{
    [TestMethod]
    public async Task LocateAsync_EngineRegisteredTheKyuubiWay_CallReachesIt()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-a");
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:1", $"sparkConnectPort={engine.Address.Port}");
        await using var gateway = await ZooKeeperGateway.StartAsync(server);

        Assert.AreEqual("engine-a", await gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString()));
        Assert.HasCount(1, engine.CallsTo("Config"));
    }

    [TestMethod]
    public async Task LocateAsync_KyuubiEngineRegistersAgain_ItsSessionsStayWithIt()
    {
        // A Kyuubi engine re-creates its node (new sequence number, same refId) when its ZooKeeper session expires.
        await using var server = await ZooKeeperServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-k");
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        var refId = Guid.NewGuid().ToString();
        var first = await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:1", $"sparkConnectPort={engine.Address.Port}", refId: refId);
        await using var gateway = await ZooKeeperGateway.StartAsync(server, o => o.LostEngineGracePeriod = TimeSpan.FromSeconds(2));
        var spaces = gateway.Host.Services.GetRequiredService<EngineSpaces>();
        const string path = "/kyuubi_1.10.0_USER_SPARK_SQL/alice/default";
        var session = Guid.NewGuid().ToString();
        Assert.AreEqual("engine-k", await gateway.ServerSideSessionIdAsync(session));
        var before = (await spaces.GetAsync(path, CancellationToken.None)).Nodes.Single().Id;

        await zk.DeleteAsync(first, CancellationToken.None);
        Assert.IsTrue(await Polling.EventuallyAsync(async () => (await spaces.GetAsync(path, CancellationToken.None)).Nodes.Count == 0, TimeSpan.FromSeconds(10)), "the gateway saw the node go");
        var second = await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:1", $"sparkConnectPort={engine.Address.Port}", refId: refId);
        Assert.IsTrue(await Polling.EventuallyAsync(async () => (await spaces.GetAsync(path, CancellationToken.None)).Nodes.Count == 1, TimeSpan.FromSeconds(10)), "the gateway saw it come back");

        Assert.AreNotEqual(first, second, "a new node");
        // The same engine id, so the grace period's check finds it back and its sessions are never told "engine lost".
        Assert.AreEqual(before, (await spaces.GetAsync(path, CancellationToken.None)).Nodes.Single().Id, "the same engine");
        Assert.AreEqual("engine-k", await gateway.ServerSideSessionIdAsync(session), "the session goes on");
    }

    [TestMethod]
    public async Task LocateAsync_EngineIdInNodeDataNameHasPort_EngineIdUsed()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-d");
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:1", $"sparkConnectPort={engine.Address.Port}", data: "engineId=engine-from-data");
        await using var gateway = await ZooKeeperGateway.StartAsync(server);

        await gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString());

        var spaces = gateway.Host.Services.GetRequiredService<EngineSpaces>();
        Assert.AreEqual("engine-from-data", (await spaces.GetAsync("/kyuubi_1.10.0_USER_SPARK_SQL/alice/default", CancellationToken.None)).Nodes.Single().Id);
    }

    [TestMethod]
    public async Task LocateAsync_SparkConnectUriAttribute_CallReachesIt()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-uri");
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "thrift-host.invalid:10009", $"sparkConnectUri=127.0.0.1:{engine.Address.Port}");
        await using var gateway = await ZooKeeperGateway.StartAsync(server);

        Assert.AreEqual("engine-uri", await gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString()));
    }

    [TestMethod]
    public async Task LocateAsync_NodeRemoved_EngineNoLongerChosenAndItsSessionsLost()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var older = await RecordingEngine.StartAsync("engine-old");
        await using var newer = await RecordingEngine.StartAsync("engine-new");
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:1", $"sparkConnectPort={older.Address.Port}");
        var newerNode = await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:2", $"sparkConnectPort={newer.Address.Port}");
        await using var gateway = await ZooKeeperGateway.StartAsync(server, o =>
        {
            o.SelectionPolicy = EngineSelectionPolicy.Newest;
            o.LostEngineGracePeriod = TimeSpan.FromSeconds(1);
        });
        var session = Guid.NewGuid().ToString();
        Assert.AreEqual("engine-new", await gateway.ServerSideSessionIdAsync(session));
        await zk.DeleteAsync(newerNode, CancellationToken.None);

        var newerId = ZooKeeperGateway.EngineIdOf(newerNode);
        Assert.IsTrue(await Polling.EventuallyAsync(() => Task.FromResult(gateway.Registry.IsLostFor(newerId, DateTimeOffset.MinValue, out _)), TimeSpan.FromSeconds(10)), "the removed engine was not marked lost");
        Assert.AreEqual("engine-old", await gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString()));
        var lost = await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.ServerSideSessionIdAsync(session));
        Assert.AreEqual(StatusCode.Unavailable, lost.StatusCode, lost.Status.Detail);
        Assert.HasCount(1, newer.CallsTo("Config"));
    }

    [TestMethod]
    public async Task NodeRecreatedWithinGrace_SameEngineId_SessionsKeepTheirEngine()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-a");
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        var attributes = $"engineId=launched-1;sparkConnectPort={engine.Address.Port}";
        var node = await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:1", attributes);
        // A second engine in a space of its own, removed for good: its loss shows when the grace timers have run.
        var control = await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:2", $"engineId=control-1;sparkConnectPort={engine.Address.Port}", subdomain: "control");
        // The grace period runs on the gateway's clock, moved by the test: no real time has to pass, and none can
        // pass unnoticed on a slow machine.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var grace = TimeSpan.FromSeconds(30);
        await using var gateway = await ZooKeeperGateway.StartAsync(server, o => o.LostEngineGracePeriod = grace, services: s => s.AddSingleton<TimeProvider>(clock));
        var spaces = gateway.Host.Services.GetRequiredService<EngineSpaces>();
        var session = Guid.NewGuid().ToString();
        Assert.AreEqual("engine-a", await gateway.ServerSideSessionIdAsync(session));
        var space = await spaces.GetAsync("/kyuubi_1.10.0_USER_SPARK_SQL/alice/default", CancellationToken.None);
        var controlSpace = await spaces.GetAsync("/kyuubi_1.10.0_USER_SPARK_SQL/alice/control", CancellationToken.None);
        Assert.HasCount(1, controlSpace.Nodes);

        // What a launching gateway does after its ZooKeeper session expired: the ephemeral node goes, then comes back.
        await zk.DeleteAsync(node, CancellationToken.None);
        Assert.IsTrue(await Polling.EventuallyAsync(() => space.Nodes.Count == 0, TimeSpan.FromSeconds(10)), "the gateway saw the node go");
        await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:1", attributes);
        Assert.IsTrue(await Polling.EventuallyAsync(() => space.Nodes.Count == 1, TimeSpan.FromSeconds(10)), "the gateway saw it come back");
        clock.Advance(grace);

        // Only then does the control engine go; its grace period ends a full period after the first one's.
        await zk.DeleteAsync(control, CancellationToken.None);
        Assert.IsTrue(await Polling.EventuallyAsync(() => controlSpace.Nodes.Count == 0, TimeSpan.FromSeconds(10)), "the gateway saw the control node go");
        clock.Advance(grace);
        Assert.IsTrue(await Polling.EventuallyAsync(() => gateway.Registry.IsLostFor("control-1", DateTimeOffset.MinValue, out _), TimeSpan.FromSeconds(10)), "an engine not back within the grace period is lost");

        Assert.IsFalse(gateway.Registry.IsLostFor("launched-1", DateTimeOffset.MinValue, out _), "an engine back within the grace period is not lost");
        Assert.AreEqual("engine-a", await gateway.ServerSideSessionIdAsync(session), "its session keeps working");
    }

    [TestMethod]
    public async Task LocateAsync_NodeWithoutSparkConnectPort_FailedPreconditionNamingThePlugin()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:10009");
        await using var gateway = await ZooKeeperGateway.StartAsync(server);

        var error = await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString()));

        Assert.AreEqual(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains(ZooKeeperEngineLocator.NoSparkConnectPortMessage, error.Status.Detail);
        StringAssert.Contains(error.Status.Detail, "spark.plugins=org.apache.spark.sql.connect.SparkConnectPlugin", "the setting that fixes it");
    }

    [TestMethod]
    public async Task LocateAsync_NoEngineAndNoLauncher_UnavailableThenFoundOnceRegistered()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-late");
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        await using var gateway = await ZooKeeperGateway.StartAsync(server);

        var error = await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString()));
        Assert.AreEqual(StatusCode.Unavailable, error.StatusCode);

        // The space is watched now: the registration reaches the gateway's view without a read per call.
        await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:1", $"sparkConnectPort={engine.Address.Port}");
        Assert.IsTrue(await Polling.EventuallyAsync(
            async () =>
            {
                try
                {
                    return await gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString()) == "engine-late";
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(10)));
    }

    [TestMethod]
    public async Task LocateAsync_OtherUser_OtherEngineSpace()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var alice = await RecordingEngine.StartAsync("engine-alice");
        await using var bob = await RecordingEngine.StartAsync("engine-bob");
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:1", $"sparkConnectPort={alice.Address.Port}");
        await ZooKeeperGateway.RegisterEngineAsync(zk, "bob", "127.0.0.1:1", $"sparkConnectPort={bob.Address.Port}");
        await using var gateway = await ZooKeeperGateway.StartAsync(server);

        Assert.AreEqual("engine-alice", await gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString(), ZooKeeperGateway.Alice));
        Assert.AreEqual("engine-bob", await gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString(), ZooKeeperGateway.Bob));
    }

    [TestMethod]
    public async Task LocateAsync_KeyAlreadyWatched_RoutesWithoutZooKeeper()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-cached");
        await using (var zk = await ZooKeeperGateway.ConnectAsync(server))
        {
            await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:1", $"sparkConnectPort={engine.Address.Port}");
            await using var gateway = await ZooKeeperGateway.StartAsync(server, o => o.ConnectionTimeout = TimeSpan.FromSeconds(3));
            Assert.AreEqual("engine-cached", await gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString()));

            await server.KillAsync();

            // New sessions of the watched key are routed from the in-memory view while ZooKeeper is down.
            Assert.AreEqual("engine-cached", await gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString()));

            // A key never looked up needs ZooKeeper: UNAVAILABLE after the connection timeout, not a hang.
            var error = await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString(), ZooKeeperGateway.Bob));
            Assert.AreEqual(StatusCode.Unavailable, error.StatusCode, error.Status.Detail);
        }
    }
}
