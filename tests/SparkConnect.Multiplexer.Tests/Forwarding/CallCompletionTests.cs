using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Sessions;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Forwarding;

/// <summary>The end of a routed call: the session's touch runs after the client has its answer, and is not lost.</summary>
[TestClass]
public sealed class CallCompletionTests
{
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task SessionTouch_RunsAfterTheClientHasItsTrailers_AndIsRecorded()
    {
        var store = new GatedTouchStore();
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(
            o => o.Engines.Default = new StaticEngineOptions { Address = engine.Address.ToString() },
            g => g.AddSessionStore(store));
        var calls = gateway.Services.GetRequiredService<ActiveCalls>();
        var session = GatewayHost.NewSessionId();

        // The touch is held until the test lets it go: the client still gets its whole answer (the call's status is
        // in the trailers), so the touch no longer sits between the engine's answer and the client.
        using var call = gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        // Bounded only so that a touch in front of the trailers fails the test rather than hanging it.
        await call.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(30), Cancel);
        Assert.AreEqual(StatusCode.OK, call.GetStatus().StatusCode);
        await store.TouchStarted.Task.WaitAsync(Cancel);
        Assert.IsTrue(calls.IsActive(session), "until its touch is recorded, the session counts as in use, so no expiry scan can take it");

        store.ReleaseTouches.SetResult();
        await WaitUntilAsync(() => !calls.IsActive(session));
        Assert.AreEqual(1, store.Touches, "one touch per call");
        Assert.AreEqual(session, store.LastTouched);
    }

    [TestMethod]
    public async Task SessionTouchFailure_IsLogged_AndTheCallSucceeds()
    {
        var store = new GatedTouchStore { FailTouches = true };
        store.ReleaseTouches.SetResult();
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(
            o => o.Engines.Default = new StaticEngineOptions { Address = engine.Address.ToString() },
            g => g.AddSessionStore(store));
        var calls = gateway.Services.GetRequiredService<ActiveCalls>();
        var session = GatewayHost.NewSessionId();

        var response = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        Assert.AreEqual(session, response.SessionId);

        await WaitUntilAsync(() => !calls.IsActive(session));
        Assert.AreEqual(1, store.Touches);
        var logged = gateway.Logs.Entries.Where(e => e.Message.Contains("failed to record activity on session " + session, StringComparison.Ordinal)).ToList();
        Assert.HasCount(1, logged);
        Assert.AreEqual(Microsoft.Extensions.Logging.LogLevel.Warning, logged[0].Level);
    }

    private async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 400 && !condition(); i++)
        {
            await Task.Delay(25, Cancel);
        }

        Assert.IsTrue(condition(), "the condition did not become true within 10 s");
    }

    /// <summary>The in-memory store, with touches that wait for the test and can fail.</summary>
    private sealed class GatedTouchStore : ISessionStore
    {
        private readonly InMemorySessionStore _inner = new();
        private int _touches;

        public TaskCompletionSource TouchStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource ReleaseTouches { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool FailTouches { get; init; }

        public int Touches => Volatile.Read(ref _touches);

        public string? LastTouched { get; private set; }

        public ValueTask<SessionClaim> ClaimAsync(SessionRecord candidate, CancellationToken cancellationToken) => _inner.ClaimAsync(candidate, cancellationToken);

        public ValueTask<SessionRecord?> GetAsync(string sessionId, CancellationToken cancellationToken) => _inner.GetAsync(sessionId, cancellationToken);

        public async ValueTask TouchAsync(string sessionId, DateTimeOffset timestamp, CancellationToken cancellationToken)
        {
            TouchStarted.TrySetResult();
            await ReleaseTouches.Task.WaitAsync(cancellationToken);
            Interlocked.Increment(ref _touches);
            LastTouched = sessionId;
            if (FailTouches)
            {
                throw new InvalidOperationException("The store is out of reach (test).");
            }

            await _inner.TouchAsync(sessionId, timestamp, cancellationToken);
        }

        public ValueTask<SessionRecord?> RemoveAsync(string sessionId, CancellationToken cancellationToken) => _inner.RemoveAsync(sessionId, cancellationToken);

        public IAsyncEnumerable<SessionRecord> ListAsync(CancellationToken cancellationToken) => _inner.ListAsync(cancellationToken);
    }
}
