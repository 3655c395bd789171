using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using SparkConnect.Multiplexer.Sessions;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Sessions;

[TestClass]
public sealed class SessionExpiryTests
{
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task IdleSession_IsReleasedOnTheEngine_WhileOneWithARunningStreamIsKept()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 8, 0, 0, TimeSpan.Zero));
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(
            o =>
            {
                o.Engines.Default = new StaticEngineOptions { Address = engine.Address.ToString() };
                o.Sessions.IdleTimeout = TimeSpan.FromMinutes(10);
                o.Sessions.ExpiryScanInterval = TimeSpan.FromDays(365); // this test scans by hand
            },
            g => g.Services.AddSingleton<TimeProvider>(clock));
        var expiry = gateway.Services.GetServices<IHostedService>().OfType<SessionExpiryService>().Single();
        var store = gateway.Services.GetRequiredService<ISessionStore>();
        var idle = GatewayHost.NewSessionId();
        var streaming = GatewayHost.NewSessionId();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Script = async (call, context, write) =>
        {
            if (call.Method == "ExecutePlan")
            {
                await write(DefaultResponses.ExecutionResponse(streaming, engine.Name, "op", 0, 1, [1]));
                await release.Task.WaitAsync(context.CancellationToken);
            }
        };

        var calls = gateway.Services.GetRequiredService<ActiveCalls>();
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = idle }, Alice, cancellationToken: Cancel);

        // The call's touch runs after the client has its answer; it is recorded before the call counts as ended.
        Assert.IsTrue(await Polling.EventuallyAsync(() => !calls.IsActive(idle), TimeSpan.FromSeconds(10)), "the call's touch was recorded");
        using var stream = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = streaming }, Alice, cancellationToken: Cancel);
        Assert.IsTrue(await stream.ResponseStream.MoveNext(Cancel));
        clock.Advance(TimeSpan.FromMinutes(9));
        Assert.AreEqual(0, await expiry.ExpireIdleSessionsAsync(Cancel), "nothing is idle for 10 minutes yet");

        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.AreEqual(1, await expiry.ExpireIdleSessionsAsync(Cancel));

        Assert.IsNull(await store.GetAsync(idle, Cancel));
        Assert.IsNotNull(await store.GetAsync(streaming, Cancel), "a session with a running stream is never idle");
        var released = ReleaseSessionRequest.Parser.ParseFrom(engine.CallsTo("ReleaseSession").Single().Requests.Single());
        Assert.AreEqual(idle, released.SessionId);
        Assert.AreEqual("alice", released.UserContext.UserId, "released as its owner, the engine's key for it");

        release.SetResult();
        Assert.IsFalse(await stream.ResponseStream.MoveNext(Cancel));
        Assert.IsTrue(await Polling.EventuallyAsync(() => !calls.IsActive(streaming), TimeSpan.FromSeconds(10)), "the call's touch was recorded");
        clock.Advance(TimeSpan.FromMinutes(9));
        Assert.AreEqual(0, await expiry.ExpireIdleSessionsAsync(Cancel), "idle time counts from the end of the stream");
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.AreEqual(1, await expiry.ExpireIdleSessionsAsync(Cancel));
        Assert.IsNull(await store.GetAsync(streaming, Cancel));
    }

    [TestMethod]
    public async Task ExpiryLoop_RunsOnTheInjectedClock()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 8, 0, 0, TimeSpan.Zero));
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(
            o =>
            {
                o.Engines.Default = new StaticEngineOptions { Address = engine.Address.ToString() };
                o.Sessions.IdleTimeout = TimeSpan.FromMinutes(10);
                o.Sessions.ExpiryScanInterval = TimeSpan.FromMinutes(1);
            },
            g => g.Services.AddSingleton<TimeProvider>(clock));
        var store = gateway.Services.GetRequiredService<ISessionStore>();
        var session = GatewayHost.NewSessionId();
        var calls = gateway.Services.GetRequiredService<ActiveCalls>();
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        Assert.IsTrue(await Polling.EventuallyAsync(() => !calls.IsActive(session), TimeSpan.FromSeconds(10)), "the call's touch was recorded");

        for (var minute = 0; minute < 12 && await store.GetAsync(session, Cancel) is not null; minute++)
        {
            clock.Advance(TimeSpan.FromMinutes(1));
            await Task.Delay(50, Cancel);
        }

        Assert.IsTrue(await Polling.EventuallyAsync(async () => await store.GetAsync(session, Cancel) is null, TimeSpan.FromSeconds(10)), "the session was not expired");
        Assert.AreEqual(1, engine.CallsTo("ReleaseSession").Count);
    }
}
