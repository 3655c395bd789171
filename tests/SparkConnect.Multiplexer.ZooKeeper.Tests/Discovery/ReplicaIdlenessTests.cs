using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Spark.Connect;
using SparkConnect.Multiplexer.ZooKeeper.Discovery;
using SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Discovery;

[TestClass]
public sealed class ReplicaIdlenessTests
{
    [TestMethod]
    public async Task CheckIdleAsync_EngineUsedThroughAnotherReplica_KeptUntilThatReplicaNoLongerUsesIt()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var launching = await ZooKeeperGateway.StartAsync(server, launch: true, services: s => s.AddSingleton<TimeProvider>(clock));
        await using var other = await ZooKeeperGateway.StartAsync(server, launch: true, services: s => s.AddSingleton<TimeProvider>(clock));
        var launchSession = Guid.NewGuid().ToString();
        var engineId = await launching.ServerSideSessionIdAsync(launchSession);
        await launching.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = launchSession }, ZooKeeperGateway.Alice);
        var working = Guid.NewGuid().ToString();
        Assert.AreEqual(engineId, await other.ServerSideSessionIdAsync(working), "the other replica's session is on the launched engine");

        // The launching replica has had no session on it for longer than the idle timeout (30 min by default).
        clock.Advance(TimeSpan.FromHours(1));
        await launching.Engines!.CheckIdleAsync(CancellationToken.None);

        Assert.AreEqual(LaunchedEngineState.Ready, launching.Engines.Engines.Single(e => e.Id == engineId).State, "kept: users work on it through the other replica");

        // Once the other replica has no session on it either (two of its checks running), it is stopped.
        await other.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = working }, ZooKeeperGateway.Alice);
        var markers = other.Host.Services.GetRequiredService<EngineUseMarkers>();
        await markers.SweepAsync(CancellationToken.None);
        await markers.SweepAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromHours(1));
        await launching.Engines.CheckIdleAsync(CancellationToken.None);

        // (The gateway's own idle check, woken by the clock, may be the one stopping it: waited for, not raced.)
        Assert.IsTrue(await Polling.EventuallyAsync(() => Task.FromResult(launching.Engines.Engines.Count == 0), TimeSpan.FromSeconds(30)), "stopped once no replica uses it");
    }
}
