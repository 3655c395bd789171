using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Engines;

/// <summary>A third party's locator tells the gateway its engine is gone through the public <see cref="IEngineLifecycle"/> only.</summary>
[TestClass]
public sealed class EngineLifecycleTests
{
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task ThirdPartyLocator_ReportsLost_SessionToldOnceWithTheReason_EventRaised_NewSessionsServed()
    {
        await using var engine = await RecordingEngine.StartAsync("platform-engine", Cancel);
        await using var gateway = await GatewayHost.StartAsync(_ => { }, g => g.AddEngineLocator<PlatformLocator>(), s => s.AddSingleton(new PlatformEngines(engine.Address)));
        var locator = (PlatformLocator)gateway.Services.GetRequiredService<IEngineLocator>();
        var lifecycle = gateway.Services.GetRequiredService<IEngineLifecycle>();
        var events = new List<EngineGoneEventArgs>();
        lifecycle.EngineGone += (_, e) => events.Add(e);
        var session = GatewayHost.NewSessionId();
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);

        locator.Evict("the platform's scheduler evicted it");

        var lost = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel));
        Assert.AreEqual(StatusCode.Unavailable, lost.StatusCode);
        StringAssert.Contains(lost.Status.Detail, "Engine lost");
        StringAssert.Contains(lost.Status.Detail, "the platform's scheduler evicted it");
        var gone = events.Single();
        Assert.AreEqual(PlatformLocator.EngineId, gone.EngineId);
        Assert.AreEqual(EngineGoneKind.Lost, gone.Kind);
        Assert.IsTrue(lifecycle.IsGone(PlatformLocator.EngineId, out var report));
        Assert.AreEqual("the platform's scheduler evicted it", report.Reason);

        // Told once: the session (released) starts anew, on the engine the locator hands out again.
        var again = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        Assert.AreEqual("platform-engine", again.ServerSideSessionId);
    }

    [TestMethod]
    public async Task ReportStopped_SaysStoppedAndWhy()
    {
        await using var engine = await RecordingEngine.StartAsync("platform-engine", Cancel);
        await using var gateway = await GatewayHost.StartAsync(_ => { }, g => g.AddEngineLocator<PlatformLocator>(), s => s.AddSingleton(new PlatformEngines(engine.Address)));
        var lifecycle = gateway.Services.GetRequiredService<IEngineLifecycle>();
        var session = GatewayHost.NewSessionId();
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);

        lifecycle.ReportStopped(PlatformLocator.EngineId, "maintenance window");

        var stopped = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel));
        StringAssert.Contains(stopped.Status.Detail, "engine stopped: maintenance window");
        Assert.IsTrue(lifecycle.IsGone(PlatformLocator.EngineId, out var report));
        Assert.AreEqual(EngineGoneKind.Stopped, report.Kind);
    }

    public sealed record PlatformEngines(Uri Address);

    /// <summary>Written against the public API only, as a platform team would.</summary>
    public sealed class PlatformLocator(PlatformEngines engines, IEngineLifecycle lifecycle) : IEngineLocator
    {
        public const string EngineId = "platform:engine-1";

        public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
            => ValueTask.FromResult(new EngineEndpoint(EngineId, engines.Address));

        public void Evict(string reason) => lifecycle.ReportLost(EngineId, reason);
    }
}
