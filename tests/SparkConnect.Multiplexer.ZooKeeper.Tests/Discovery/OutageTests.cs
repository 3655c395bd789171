using Grpc.Core;
using Spark.Connect;
using SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Discovery;

[TestClass]
public sealed class OutageTests
{
    [TestMethod]
    public async Task LocateAsync_ZooKeeperDownAndLaunchNeeded_UnavailableNamingZooKeeperWithinTheConnectionTimeout()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var gateway = await ZooKeeperGateway.StartAsync(server, o =>
        {
            o.ConnectionTimeout = TimeSpan.FromSeconds(2);
            o.LaunchTimeout = TimeSpan.FromMinutes(10);
        }, launch: true);

        // The space is read (empty) and watched: routing would use the cached view from now on.
        await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = Guid.NewGuid().ToString() }, ZooKeeperGateway.Alice);
        await server.KillAsync();

        // The deadline only keeps a regression from hanging the test: the old code waited the whole LaunchTimeout.
        var error = await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.Client.ConfigAsync(
            ZooKeeperGateway.GetAll(Guid.NewGuid().ToString()), ZooKeeperGateway.Alice, deadline: DateTime.UtcNow.AddSeconds(60)).ResponseAsync);

        Assert.AreEqual(StatusCode.Unavailable, error.StatusCode, error.Status.Detail);
        StringAssert.Contains(error.Status.Detail, "ZooKeeper (" + server.ConnectionString + ") has been unreachable");
        Assert.DoesNotContain("may still be starting", error.Status.Detail);
        Assert.IsEmpty(gateway.Engines!.StartedProcessIds, "nothing launched without the lock");
    }
}
