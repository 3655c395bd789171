using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Engines;

[TestClass]
public sealed class EngineHealthTests
{
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task DeadEngine_SessionToldEngineLostOnce_ThenStartsAnewElsewhere()
    {
        var engineA = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var engineB = await RecordingEngine.StartAsync("engine-b", Cancel);
        await using var gateway = await GatewayHost.StartAsync(o => o.Health.FailuresBeforeLost = 2, g => g.UseAlternatingEngines(engineA.Address, engineB.Address));
        var monitor = gateway.Services.GetServices<IHostedService>().OfType<EngineHealthMonitor>().Single();
        var session = GatewayHost.NewSessionId();
        var first = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        Assert.AreEqual("engine-a", first.ServerSideSessionId);
        Assert.AreEqual(0, (await monitor.ProbeAllAsync(Cancel)).Count, "a live engine passes its probe");
        Assert.AreEqual(EngineCaller.GatewayUser, ConfigRequest.Parser.ParseFrom(engineA.Calls[^1].Requests[0]).UserContext.UserId, "the probe is a real Config call");

        await engineA.DisposeAsync();
        Assert.AreEqual(0, (await monitor.ProbeAllAsync(Cancel)).Count, "one failure is not yet a loss");
        CollectionAssert.AreEqual(new[] { "alternating-0" }, (await monitor.ProbeAllAsync(Cancel)).ToArray());

        var lost = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel));
        var again = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);

        Assert.AreEqual(StatusCode.Unavailable, lost.StatusCode);
        StringAssert.Contains(lost.Status.Detail, "Engine lost");
        Assert.AreEqual("engine-b", again.ServerSideSessionId, "after being told once, the session starts anew on a live engine");
    }

    [TestMethod]
    public async Task DeadEngine_LossIsLoggedWhenFound_WithItsSessionCount()
    {
        var engineA = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var engineB = await RecordingEngine.StartAsync("engine-b", Cancel);
        await using var gateway = await GatewayHost.StartAsync(o => o.Health.FailuresBeforeLost = 1, g => g.UseAlternatingEngines(engineA.Address, engineB.Address));
        var monitor = gateway.Services.GetServices<IHostedService>().OfType<EngineHealthMonitor>().Single();
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);

        await engineA.DisposeAsync();
        CollectionAssert.AreEqual(new[] { "alternating-0" }, (await monitor.ProbeAllAsync(Cancel)).ToArray());

        // Reported off the prober's thread (counting reads the store): wait for the line, not for a time.
        string? line = null;
        Assert.IsTrue(
            await Polling.EventuallyAsync(() => (line = gateway.Logs.Entries.Select(e => e.Message).FirstOrDefault(m => m.StartsWith("Engine alternating-0 is gone", StringComparison.Ordinal))) is not null, TimeSpan.FromSeconds(30)),
            "the engine's loss was not logged");
        StringAssert.Contains(line, "1 session(s) bound to it");
    }

    [TestMethod]
    public async Task StaticEngine_FailingItsProbes_MakesTheGatewayNotReady()
    {
        var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Health.FailuresBeforeLost = 5);
        var monitor = gateway.Services.GetServices<IHostedService>().OfType<EngineHealthMonitor>().Single();
        var health = gateway.Services.GetRequiredService<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckService>();
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);
        await monitor.ProbeAllAsync(Cancel);
        var before = await health.CheckHealthAsync(Cancel);

        await engine.DisposeAsync();
        await monitor.ProbeAllAsync(Cancel);
        var after = await health.CheckHealthAsync(Cancel);

        Assert.AreEqual(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, before.Status);
        Assert.AreEqual(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, after.Status);
        StringAssert.Contains(after.Entries["spark_connect_gateway"].Description, "Every engine (1) fails its health probes");
    }
}
