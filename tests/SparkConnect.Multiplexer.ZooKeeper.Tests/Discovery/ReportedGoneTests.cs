using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Discovery;

/// <summary>
/// Engines reported gone through <see cref="IEngineLifecycle"/> (health probes, say) while their node stays registered,
/// on a real ZooKeeper server. The locator is asked directly; no engine runs behind the nodes.
/// </summary>
[TestClass]
public sealed class ReportedGoneTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [TestMethod]
    public async Task LocateAsync_EngineReportedLostNodeStays_NotRoutedUntilItRegistersAgain()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var zk = await ZooKeeperGateway.ConnectAsync(server);
        var refId = Guid.NewGuid().ToString();
        var first = await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:1", "sparkConnectPort=15003", refId: refId);
        await using var gateway = await ZooKeeperGateway.StartAsync(server);
        var locator = gateway.Host.Services.GetRequiredService<IEngineLocator>();
        var engine = await locator.LocateAsync(Request(), CancellationToken.None);
        Assert.AreEqual(ZooKeeperGateway.EngineIdOf(first), engine.Id);

        gateway.Host.Services.GetRequiredService<IEngineLifecycle>().ReportLost(engine.Id, "3 health probes failed");

        await Assert.ThrowsExactlyAsync<EngineNotRunningException>(async () => await locator.LocateAsync(Request(), CancellationToken.None), "the node stays, its engine is lost");

        // The engine comes back and registers again (a new node, the same refId): it serves new sessions again.
        var second = await ZooKeeperGateway.RegisterEngineAsync(zk, "alice", "127.0.0.1:1", "sparkConnectPort=15003", refId: refId);
        Assert.AreNotEqual(first, second);
        Assert.IsTrue(
            await Polling.EventuallyAsync(
                async () =>
                {
                    try
                    {
                        return (await locator.LocateAsync(Request(), CancellationToken.None)).Id == engine.Id;
                    }
                    catch (EngineNotRunningException)
                    {
                        return false;
                    }
                },
                Wait),
            "the engine's new node is used");
    }

    private static EngineRequest Request()
        => new(new GatewayPrincipal("alice"), new EngineKey { ShareLevel = ShareLevel.User, Owner = "alice" }, Guid.NewGuid().ToString(), new Dictionary<string, string>(), null)
        {
            MayLaunch = false,
        };
}
