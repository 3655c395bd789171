using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.Processes.Tests.Infrastructure;
using static SparkConnect.Multiplexer.Processes.Tests.Infrastructure.LaunchingGateway;

using SparkConnect.Multiplexer.Testing;
using static SparkConnect.Multiplexer.Testing.Polling;

namespace SparkConnect.Multiplexer.Processes.Tests.Launching;

[TestClass]
public sealed class CapacityTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public void Defaults_CapEnginesPerUserAndInTotal()
    {
        var options = new ProcessEngineOptions();

        Assert.AreEqual(50, options.MaxEngines);
        Assert.AreEqual(5, options.MaxEnginesPerUser);
    }

    [TestMethod]
    public async Task PerUserCap_Reached_ResourceExhaustedNamingTheOption_OtherUsersUnaffected_SlotFreedWhenAnEngineStops()
    {
        await using var gateway = await StartAsync(o => o.MaxEnginesPerUser = 2);
        await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), AliceOn("a"), cancellationToken: Cancel);
        await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), AliceOn("b"), cancellationToken: Cancel);

        // A third subdomain would be a third engine.
        var error = await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), AliceOn("c"), cancellationToken: Cancel).ResponseAsync);

        Assert.AreEqual(StatusCode.ResourceExhausted, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "SparkConnectGateway:ProcessEngines:MaxEnginesPerUser");
        StringAssert.Contains(error.Status.Detail, "'alice'");
        Assert.HasCount(2, gateway.Engines.StartedProcessIds, "nothing was started for the refused session");

        // Alice's running engines still serve her new sessions; bob has a quota of his own.
        await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), AliceOn("a"), cancellationToken: Cancel);
        await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Bob, cancellationToken: Cancel);

        // Once one of her engines is gone, the slot is hers again.
        await KillEngineAsync(gateway, "a");
        var fresh = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), AliceOn("c"), cancellationToken: Cancel);
        StringAssert.StartsWith(fresh.ServerSideSessionId, "process:USER/alice/c:");
    }

    [TestMethod]
    public async Task TotalCap_Reached_ResourceExhaustedNamingTheOption_SlotFreedWhenAnEngineStops()
    {
        await using var gateway = await StartAsync(o =>
        {
            o.MaxEngines = 2;
            o.MaxEnginesPerUser = 0;
        });
        await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), AliceOn("a"), cancellationToken: Cancel);
        await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Bob, cancellationToken: Cancel);

        var error = await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), AliceOn("b"), cancellationToken: Cancel).ResponseAsync);

        Assert.AreEqual(StatusCode.ResourceExhausted, error.StatusCode, "never UNAVAILABLE: clients would retry it for ten minutes");
        StringAssert.Contains(error.Status.Detail, "SparkConnectGateway:ProcessEngines:MaxEngines");

        await KillEngineAsync(gateway, "a");
        var fresh = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), AliceOn("b"), cancellationToken: Cancel);
        StringAssert.StartsWith(fresh.ServerSideSessionId, "process:USER/alice/b:");
        Assert.HasCount(2, gateway.Engines.Engines);
    }

    [TestMethod]
    public async Task FailedLaunches_LeaveNoSlotTaken()
    {
        await using var gateway = await StartAsync(o =>
        {
            o.Command = "/bin/sh";
            o.Arguments.Clear();
            o.Arguments.Add("-c");
            o.Arguments.Add("exit 1");
            o.Arguments.Add("engine-{port}");
            o.MaxEngines = 1;
            o.MaxEnginesPerUser = 1;
        });

        for (var i = 0; i < 3; i++)
        {
            var error = await Assert.ThrowsExactlyAsync<RpcException>(
                () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), AliceOn("s" + i), cancellationToken: Cancel).ResponseAsync);
            Assert.AreEqual(StatusCode.Unavailable, error.StatusCode, "each launch was tried, none refused for capacity");
        }

        Assert.IsEmpty(gateway.Engines.Engines);
        Assert.HasCount(3, gateway.Engines.StartedProcessIds);
    }

    [TestMethod]
    public async Task StoppedOrLostEngine_LeavesNoCacheBehind()
    {
        await using var gateway = await StartAsync(static _ => { });
        var pool = gateway.Host.Services.GetRequiredService<EngineChannelPool>();
        await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), AliceOn("a"), cancellationToken: Cancel);
        await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), AliceOn("b"), cancellationToken: Cancel);
        Assert.AreEqual(2, pool.Count, "one pooled client per engine");
        var a = gateway.Engines.Engines.Single(e => e.Key.Subdomain == "a");
        var b = gateway.Engines.Engines.Single(e => e.Key.Subdomain == "b");
        Assert.IsTrue(gateway.Registry.TryGet(a.Id, out _));

        // One exits on its own, the other is stopped with the gateway's engines.
        await KillEngineAsync(gateway, "a");

        Assert.AreEqual(1, pool.Count, "the lost engine's client is dropped");
        Assert.IsFalse(gateway.Registry.TryGet(a.Id, out _), "and its endpoint");
        await gateway.Engines.StopAllAsync(Cancel);
        Assert.AreEqual(0, pool.Count, "the stopped engine's client is dropped");
        Assert.IsFalse(gateway.Registry.TryGet(b.Id, out _), "and its endpoint");
        Assert.IsEmpty(gateway.Engines.Engines);
    }

    private static Metadata AliceOn(string subdomain) => new()
    {
        { "authorization", "Bearer " + GatewayHost.AliceToken },
        { "subdomain", subdomain },
    };

    private async Task KillEngineAsync(LaunchingGateway gateway, string subdomain)
    {
        var engine = gateway.Engines.Engines.Single(e => e.Key.Owner == "alice" && e.Key.Subdomain == subdomain);
        using (var process = System.Diagnostics.Process.GetProcessById(engine.Process!.Id))
        {
            process.Kill();
        }

        Assert.IsTrue(
            await EventuallyAsync(() => !gateway.Engines.Engines.Contains(engine), TimeSpan.FromSeconds(15)),
            "the stopped engine left the manager");
        Cancel.ThrowIfCancellationRequested();
    }
}
