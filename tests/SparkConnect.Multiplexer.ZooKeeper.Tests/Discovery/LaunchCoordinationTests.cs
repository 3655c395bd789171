using SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;

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

        Assert.IsTrue(await ZooKeeperGateway.EventuallyAsync(async () => (await zk.GetChildrenAsync(space, null, CancellationToken.None))!.Length == 0, TimeSpan.FromSeconds(10)));
    }
}
