using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Discovery;

/// <summary>The ZooKeeper locator drives the process launcher through the public <see cref="IEngineLauncher"/> and shows its engines to operators.</summary>
[TestClass]
public sealed class LaunchedEnginesTests
{
    [TestMethod]
    public async Task EngineLaunchedThroughZooKeeper_IsListedForTheAdminApi_AndCanBeStopped()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var gateway = await ZooKeeperGateway.StartAsync(server, launch: true);
        var engineId = await gateway.ServerSideSessionIdAsync(Guid.NewGuid().ToString());

        var launched = gateway.Host.Services.GetRequiredService<IEngineLocator>() as ILaunchedEngines;

        Assert.IsNotNull(launched, "the ZooKeeper locator lists what its launcher runs");
        var engine = launched.LaunchedEngines.Single();
        Assert.AreEqual(engineId, engine.Id);
        Assert.AreEqual(LaunchedEngineState.Ready, engine.State);
        Assert.AreEqual("alice", engine.LaunchedBy);
        Assert.IsTrue(await launched.StopEngineAsync(engineId, "stopped by a test", CancellationToken.None));
        Assert.IsFalse(launched.LaunchedEngines.Any(e => e.Id == engineId && e.State == LaunchedEngineState.Ready), "stopped");
    }
}
