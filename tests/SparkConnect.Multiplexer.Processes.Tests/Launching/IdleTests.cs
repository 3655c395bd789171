using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Spark.Connect;
using SparkConnect.Multiplexer.Processes.Tests.Infrastructure;
using static SparkConnect.Multiplexer.Processes.Tests.Infrastructure.LaunchingGateway;

using SparkConnect.Multiplexer.Testing;
using static SparkConnect.Multiplexer.Testing.Polling;

namespace SparkConnect.Multiplexer.Processes.Tests.Launching;

[TestClass]
public sealed class IdleTests
{
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(30);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task EngineWithoutSessions_StoppedAfterIdleTimeout_NotBefore()
    {
        var clock = new FakeTimeProvider();
        await using var gateway = await StartAsync(
            static _ => { },
            services => services.AddSingleton<TimeProvider>(clock));
        var session = GatewayHost.NewSessionId();
        var engineId = (await gateway.Client.ConfigAsync(GetAll(session), Alice, cancellationToken: Cancel)).ServerSideSessionId;
        var processId = gateway.Engines.StartedProcessIds.Single();

        // 35 minutes with a session open: kept.
        await AdvanceAsync(clock, TimeSpan.FromMinutes(35));
        Assert.IsTrue(IsAlive(processId), "an engine with a session is not idle");

        await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = session }, Alice, cancellationToken: Cancel);

        // 25 minutes without: still kept (the idle timeout is 30 min).
        await AdvanceAsync(clock, TimeSpan.FromMinutes(25));
        Assert.IsTrue(IsAlive(processId), "stopped before the idle timeout");

        Assert.IsTrue(
            await EventuallyAsync(() => !IsAlive(processId), TimeSpan.FromSeconds(30), () => AdvanceAsync(clock, Step)),
            "stopped once idle for 30 min");
        Assert.IsTrue(await EventuallyAsync(() => gateway.Engines.Engines.Count == 0, TimeSpan.FromSeconds(10)), "and forgotten");
        Assert.IsTrue(gateway.Host.Logs.Entries.Any(e => e.Message.Contains($"Stopping engine {engineId}", StringComparison.Ordinal) && e.Message.Contains("no session", StringComparison.Ordinal)));

        // The next session launches a fresh engine.
        var fresh = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel);
        Assert.AreNotEqual(engineId, fresh.ServerSideSessionId);
        Assert.HasCount(2, gateway.Engines.StartedProcessIds);
    }

    [TestMethod]
    public async Task MaxEngineLifetime_NewSessionsGetFreshEngine_OldStopsWhenItsSessionsAreGone()
    {
        var clock = new FakeTimeProvider();
        await using var gateway = await StartAsync(
            o => o.MaxEngineLifetime = TimeSpan.FromMinutes(20),
            services => services.AddSingleton<TimeProvider>(clock));
        var oldSession = GatewayHost.NewSessionId();
        var oldEngine = (await gateway.Client.ConfigAsync(GetAll(oldSession), Alice, cancellationToken: Cancel)).ServerSideSessionId;
        var oldProcess = gateway.Engines.StartedProcessIds.Single();

        // Less than the gateway's session idle timeout (60 min), so the old session stays.
        await AdvanceAsync(clock, TimeSpan.FromMinutes(21));
        var newEngine = (await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel)).ServerSideSessionId;

        Assert.AreNotEqual(oldEngine, newEngine);
        var stillOld = await gateway.Client.ConfigAsync(GetAll(oldSession), Alice, cancellationToken: Cancel);
        Assert.AreEqual(oldEngine, stillOld.ServerSideSessionId, "a session never moves");
        Assert.IsTrue(IsAlive(oldProcess));

        await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = oldSession }, Alice, cancellationToken: Cancel);
        Assert.IsTrue(
            await EventuallyAsync(() => !IsAlive(oldProcess), TimeSpan.FromSeconds(30), () => AdvanceAsync(clock, Step)),
            "the retired engine stopped once its last session was gone");
        Assert.IsTrue(await EventuallyAsync(() => gateway.Engines.Engines.Count == 1, TimeSpan.FromSeconds(10)));
        Assert.AreEqual(newEngine, gateway.Engines.Engines.Single().Id);
        Assert.IsTrue(gateway.Host.Logs.Entries.Any(e => e.Message.Contains($"Engine {oldEngine} stopped (maximum lifetime reached", StringComparison.Ordinal)));
    }

    /// <summary>Moves the clock in check-interval steps, giving the background check time to run after each.</summary>
    private static async Task AdvanceAsync(FakeTimeProvider clock, TimeSpan by)
    {
        for (var moved = TimeSpan.Zero; moved < by; moved += Step)
        {
            clock.Advance(Step);
            await Task.Delay(15);
        }
    }
}
