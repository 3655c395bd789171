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
}
