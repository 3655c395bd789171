using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Spark.Connect;
using SparkConnect.Multiplexer.Processes.Engines;
using SparkConnect.Multiplexer.Processes.Launching;
using SparkConnect.Multiplexer.ZooKeeper.Discovery;
using SparkConnect.Multiplexer.Testing;
using SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Discovery;

/// <summary>
/// A replica restarted (stopped, then started again with the same working directory) while users work on the engines
/// it launched through another replica: the engines go on, and the restarted replica takes them back.
/// </summary>
[TestClass]
public sealed class RollingRestartTests
{
    [TestMethod]
    public async Task Restart_EngineUsedThroughAnotherReplica_LeftRunning_AdoptedByTheRestartedReplica_StoppedWhenNobodyUsesIt()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var workRoot = Path.Combine(Path.GetTempPath(), "zk-rolling-" + Guid.NewGuid().ToString("N")[..12]);
        await using var first = await ZooKeeperGateway.StartAsync(server, launch: true, workRoot: workRoot, services: s => s.AddSingleton<TimeProvider>(clock));
        await using var other = await ZooKeeperGateway.StartAsync(server, launch: true, services: s => s.AddSingleton<TimeProvider>(clock));
        var engineId = await first.ServerSideSessionIdAsync(Guid.NewGuid().ToString());
        var working = Guid.NewGuid().ToString();
        Assert.AreEqual(engineId, await other.ServerSideSessionIdAsync(working), "the other replica's session is on the launched engine");
        var directory = Path.Combine(workRoot, ProcessEngineManager.DirectoryNameOf(engineId));
        var launched = EngineWorkDirectories.ReadState(directory)!;

        await first.StopAsync();

        Assert.IsTrue(EngineWorkDirectories.IsRunning(launched.ProcessId, launched.ProcessStartedAt), "the engine users work on through the other replica is left running");
        Assert.IsTrue(EngineWorkDirectories.ReadState(directory)!.HandedOver, "its state file says it was handed over");
        Assert.AreEqual(engineId, await other.ServerSideSessionIdAsync(working), "the other replica's session goes on meanwhile");

        await using var restarted = await ZooKeeperGateway.StartAsync(server, launch: true, workRoot: workRoot, services: s => s.AddSingleton<TimeProvider>(clock));
        Assert.IsTrue(
            await Polling.EventuallyAsync(() => restarted.Engines!.Engines.Any(e => e.Id == engineId && e.Adopted && e.State == LaunchedEngineState.Ready), TimeSpan.FromSeconds(30)),
            "the restarted replica adopts the engine from its working directory");
        var options = restarted.Host.Services.GetRequiredService<IOptions<ZooKeeperOptions>>().Value;
        var space = ZooKeeperEngineLocator.SpacePath(options, new EngineKey { ShareLevel = ShareLevel.User, Owner = "alice" });
        Assert.IsTrue(
            await Polling.EventuallyAsync(async () => (await restarted.ZooKeeper.GetChildrenAsync(space, null, CancellationToken.None) ?? []).Any(n => ZooKeeperGateway.EngineIdOf(space + "/" + n) == engineId), TimeSpan.FromSeconds(30)),
            "and registers it in ZooKeeper again (its node went with the stopped replica's ZooKeeper session)");
        var otherSpaces = other.Host.Services.GetRequiredService<EngineSpaces>();
        Assert.IsTrue(
            await Polling.EventuallyAsync(async () => (await otherSpaces.GetAsync(space, CancellationToken.None)).Serves(engineId), TimeSpan.FromSeconds(30)),
            "the other replica sees the node back");

        // Well past the other replica's grace period for the node that vanished: it came back, so nothing is lost.
        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.AreEqual(engineId, await other.ServerSideSessionIdAsync(working), "the session survived the restart");
        var fresh = Guid.NewGuid().ToString();
        Assert.AreEqual(engineId, await restarted.ServerSideSessionIdAsync(fresh), "a new session through the restarted replica gets the adopted engine, not a second one");
        Assert.AreEqual(1, restarted.Engines!.Engines.Count, "one engine for the key");

        // Nobody uses it any more: the restarted replica stops it as idle, so nothing is left behind.
        await restarted.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = fresh }, ZooKeeperGateway.Alice);
        await other.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = working }, ZooKeeperGateway.Alice);
        var markers = other.Host.Services.GetRequiredService<EngineUseMarkers>();
        await markers.SweepAsync(CancellationToken.None);
        await markers.SweepAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromHours(1));
        await restarted.Engines.CheckIdleAsync(CancellationToken.None);
        Assert.IsTrue(
            await Polling.EventuallyAsync(() => !EngineWorkDirectories.IsRunning(launched.ProcessId, launched.ProcessStartedAt), TimeSpan.FromSeconds(30)),
            "the adopted engine's process is stopped once no replica uses it");
    }

    [TestMethod]
    public async Task Stop_EngineUsedOnlyThroughThisReplica_Stopped()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var only = await ZooKeeperGateway.StartAsync(server, launch: true);
        var engineId = await only.ServerSideSessionIdAsync(Guid.NewGuid().ToString());
        var launched = EngineWorkDirectories.ReadState(Path.Combine(only.WorkRoot, ProcessEngineManager.DirectoryNameOf(engineId)))!;

        await only.StopAsync();

        Assert.IsFalse(EngineWorkDirectories.IsRunning(launched.ProcessId, launched.ProcessStartedAt), "its sessions (in this replica's memory) are gone with it, so is the engine");
    }
}
