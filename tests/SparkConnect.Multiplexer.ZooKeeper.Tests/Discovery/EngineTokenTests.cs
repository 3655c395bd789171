using Grpc.Core;
using SparkConnect.Multiplexer.Processes;
using SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Discovery;

[TestClass]
public sealed class EngineTokenTests
{
    private const string SharedSecret = "a-secret-every-replica-shares-0123456789";

    [TestMethod]
    public async Task EngineToken_TwoReplicasSharedSecret_EverySessionOnEveryReplicaReachesTheEngine()
    {
        // The test engine refuses every call without the token it was started with (as Spark 4 with
        // SPARK_CONNECT_AUTHENTICATE_TOKEN); the node in ZooKeeper does not carry it.
        await using var server = await ZooKeeperServer.StartAsync();
        await using var first = await ZooKeeperGateway.StartAsync(server, launch: true, launcher: TokenChecking);
        await using var second = await ZooKeeperGateway.StartAsync(server, launch: true, launcher: TokenChecking);

        var launched = await first.ServerSideSessionIdAsync(Guid.NewGuid().ToString());
        var againOnFirst = await first.ServerSideSessionIdAsync(Guid.NewGuid().ToString());
        var onSecond = await second.ServerSideSessionIdAsync(Guid.NewGuid().ToString());
        var bobOnSecond = await second.ServerSideSessionIdAsync(Guid.NewGuid().ToString(), ZooKeeperGateway.Bob);
        var bobOnFirst = await first.ServerSideSessionIdAsync(Guid.NewGuid().ToString(), ZooKeeperGateway.Bob);

        Assert.AreEqual(launched, againOnFirst, "a later session on the launching replica");
        Assert.AreEqual(launched, onSecond, "a session on the other replica");
        Assert.AreEqual(bobOnSecond, bobOnFirst, "bob's engine, launched by the second replica, reached from the first");
        Assert.AreEqual(2, first.Engines!.StartedProcessIds.Count + second.Engines!.StartedProcessIds.Count, "one engine per user");
    }

    [TestMethod]
    public async Task EngineToken_WithoutSharedSecret_StartUpRefusedNamingTheFix()
    {
        await using var server = await ZooKeeperServer.StartAsync();

        var error = await Assert.ThrowsAsync<Exception>(() => ZooKeeperGateway.StartAsync(server, launch: true, launcher: o => o.Environment["SPARK_CONNECT_AUTHENTICATE_TOKEN"] = "{engineToken}"));

        StringAssert.Contains(error.ToString(), "SparkConnectGateway:ProcessEngines:EngineTokenSecret");
    }

    [TestMethod]
    public async Task EngineToken_WrongSecretOnOneReplica_ItsSessionsAreRefusedByTheEngine()
    {
        // The token is derived from the secret: a replica with another secret presents a token the engine refuses.
        await using var server = await ZooKeeperServer.StartAsync();
        await using var first = await ZooKeeperGateway.StartAsync(server, launch: true, launcher: TokenChecking);
        await using var other = await ZooKeeperGateway.StartAsync(server, launch: true, launcher: o =>
        {
            TokenChecking(o);
            o.EngineTokenSecret = "another-secret-of-a-misconfigured-replica";
        });
        await first.ServerSideSessionIdAsync(Guid.NewGuid().ToString());

        var error = await Assert.ThrowsExactlyAsync<RpcException>(() => other.ServerSideSessionIdAsync(Guid.NewGuid().ToString()));

        Assert.AreEqual(StatusCode.Unauthenticated, error.StatusCode);
    }

    private static void TokenChecking(ProcessEngineOptions options)
    {
        options.Environment["SPARK_CONNECT_AUTHENTICATE_TOKEN"] = "{engineToken}";
        options.EngineTokenSecret = SharedSecret;
    }
}
