using Grpc.Core;
using Spark.Connect;
using SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Discovery;

[TestClass]
public sealed class LaunchCoordinationTests
{
    [TestMethod]
    public async Task LocateAsync_TwoGatewaysTwentyConcurrentFirstCalls_ExactlyOneEngineLaunched()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var first = await ZooKeeperGateway.StartAsync(server, launch: true);
        await using var second = await ZooKeeperGateway.StartAsync(server, launch: true);

        var calls = Enumerable.Range(0, 20)
            .Select(i => (i % 2 == 0 ? first : second).ServerSideSessionIdAsync(Guid.NewGuid().ToString()))
            .ToList();
        var engines = await Task.WhenAll(calls);

        Assert.HasCount(1, engines.Distinct(), string.Join(", ", engines.Distinct()));
        Assert.AreEqual(1, first.Engines!.StartedProcessIds.Count + second.Engines!.StartedProcessIds.Count, "engine processes started");
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        var nodes = await zk.GetChildrenAsync("/kyuubi_1.10.0_USER_SPARK_SQL/alice/default", null, CancellationToken.None);
        Assert.IsNotNull(nodes);
        Assert.HasCount(1, nodes);
        StringAssert.Contains(nodes[0], "sparkConnectPort=");
    }

    [TestMethod]
    public async Task LocateAsync_LaunchedEngineStops_NodeRemoved()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var gateway = await ZooKeeperGateway.StartAsync(server, launch: true);
        await gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString());
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        const string space = "/kyuubi_1.10.0_USER_SPARK_SQL/alice/default";
        Assert.HasCount(1, (await zk.GetChildrenAsync(space, null, CancellationToken.None))!);

        await gateway.Engines!.StopAllAsync(CancellationToken.None);

        Assert.IsTrue(await Polling.EventuallyAsync(async () => (await zk.GetChildrenAsync(space, null, CancellationToken.None))!.Length == 0, TimeSpan.FromSeconds(10)));
    }

    [TestMethod]
    public async Task LocateAsync_NonCreatingCallsNoEngineRegistered_LaunchNothing()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var gateway = await ZooKeeperGateway.StartAsync(server, launch: true);
        var session = Guid.NewGuid().ToString();

        var released = await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = session }, ZooKeeperGateway.Alice);
        var status = await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.Client.GetStatusAsync(new GetStatusRequest { SessionId = session }, ZooKeeperGateway.Alice).ResponseAsync);

        Assert.AreEqual(session, released.SessionId);
        Assert.AreEqual(StatusCode.Internal, status.StatusCode);
        StringAssert.StartsWith(status.Status.Detail, "[INVALID_HANDLE.SESSION_NOT_FOUND]");
        Assert.IsEmpty(gateway.Engines!.StartedProcessIds, "no engine process was launched");
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        Assert.IsEmpty(await zk.GetChildrenAsync("/kyuubi_1.10.0_USER_SPARK_SQL/alice/default", null, CancellationToken.None) ?? [], "nothing registered");
    }

    [TestMethod]
    public async Task LocateAsync_NonCreatingCallEngineRegistered_ReachesItWithoutLaunching()
    {
        // The engine runs and is registered (by another gateway replica, or before this one restarted).
        await using var server = await ZooKeeperServer.StartAsync();
        await using var launcher = await ZooKeeperGateway.StartAsync(server, launch: true);
        var engineId = await launcher.ServerSideSessionIdAsync(Guid.NewGuid().ToString());
        await using var gateway = await ZooKeeperGateway.StartAsync(server, launch: true);

        var released = await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = Guid.NewGuid().ToString() }, ZooKeeperGateway.Alice);

        Assert.AreEqual(engineId, released.ServerSideSessionId, "the registered engine answered");
        Assert.IsEmpty(gateway.Engines!.StartedProcessIds, "this gateway launched nothing");
        Assert.AreEqual(1, launcher.Engines!.StartedProcessIds.Count);
    }

    [TestMethod]
    public async Task LocateAsync_NonCreatingCallNothingRegisteredNoLauncher_AnsweredAsSparkNotUnavailable()
    {
        // A discovery-only gateway used to say UNAVAILABLE ("start an engine"), which clients retry for minutes.
        await using var server = await ZooKeeperServer.StartAsync();
        await using var gateway = await ZooKeeperGateway.StartAsync(server);
        var session = Guid.NewGuid().ToString();

        var released = await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = session }, ZooKeeperGateway.Alice);
        var reattach = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
        {
            using var call = gateway.Client.ReattachExecute(new ReattachExecuteRequest { SessionId = session, OperationId = Guid.NewGuid().ToString() }, ZooKeeperGateway.Alice);
            await call.ResponseStream.MoveNext(CancellationToken.None);
        });

        Assert.AreEqual(session, released.SessionId);
        Assert.AreEqual(StatusCode.Internal, reattach.StatusCode);
        StringAssert.StartsWith(reattach.Status.Detail, "[INVALID_HANDLE.SESSION_NOT_FOUND]");
    }
}
