using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Spark.Connect;
using SparkConnect.Multiplexer.Redis.Tests.Infrastructure;
using SparkConnect.Multiplexer.Sessions;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Redis.Tests.Sessions;

/// <summary>Several gateway replicas sharing one real Redis, as behind a load balancer.</summary>
[TestClass]
public sealed class SharedSessionTests
{
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);
    private static readonly Metadata Bob = GatewayHost.Bearer(GatewayHost.BobToken);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task SessionClaimedOnOneReplica_IsRefusedToAnotherUserOnTheOther_AndFollowsItsOwner()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var prefix = "shared-" + Guid.NewGuid().ToString("N");
        await using var first = await StartReplicaAsync(redis, engine, prefix);
        await using var second = await StartReplicaAsync(redis, engine, prefix);
        var session = GatewayHost.NewSessionId();

        await first.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => second.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Bob, cancellationToken: Cancel).ResponseAsync);
        await second.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);

        Assert.AreEqual(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.HasCount(2, engine.Calls, "bob's call never reached the engine");
        Assert.IsTrue(engine.Calls.All(c => ConfigRequest.Parser.ParseFrom(c.Requests.Single()).UserContext.UserId == "alice"));
    }

    [TestMethod]
    public async Task RedisOutage_GivesUnavailable_AndNotServing_AndTheGatewayRecoversWhenRedisIsBack()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await StartReplicaAsync(redis, engine, "outage-" + Guid.NewGuid().ToString("N"));
        var health = new Health.HealthClient(gateway.Channel);
        var before = GatewayHost.NewSessionId();
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = before }, Alice, cancellationToken: Cancel);
        Assert.AreEqual(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest(), cancellationToken: Cancel)).Status);

        await redis.KillAsync();
        Assert.AreEqual(HealthCheckResponse.Types.ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest(), cancellationToken: Cancel)).Status, "a load balancer is told");
        var failure = await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel).ResponseAsync);
        Assert.AreEqual(StatusCode.Unavailable, failure.StatusCode, "clients retry UNAVAILABLE");
        StringAssert.Contains(failure.Status.Detail, "session store");

        await redis.RunAsync();
        var after = GatewayHost.NewSessionId();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = after }, Alice, cancellationToken: Cancel);
                break;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, Cancel);
            }
        }

        var store = gateway.Services.GetRequiredService<ISessionStore>();
        Assert.AreEqual("alice", (await store.GetAsync(after, Cancel))?.Owner);
        Assert.AreEqual(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest(), cancellationToken: Cancel)).Status);
        Assert.IsNull(await store.GetAsync(before, Cancel), "the server came back empty (no persistence): sessions from before are claimed afresh");
    }

    [TestMethod]
    public async Task StreamRunningOnOneReplica_IsNotExpiredByTheOther_AndAnIdleSessionIsReleasedOnce()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 8, 0, 0, TimeSpan.Zero));
        await using var redis = await RedisServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var prefix = "expiry-" + Guid.NewGuid().ToString("N");
        await using var carrier = await StartReplicaAsync(redis, engine, prefix, clock);
        await using var other = await StartReplicaAsync(redis, engine, prefix, clock);
        var streaming = GatewayHost.NewSessionId();
        var idle = GatewayHost.NewSessionId();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Script = async (call, context, write) =>
        {
            if (call.Method == "ExecutePlan")
            {
                await write(DefaultResponses.ExecutionResponse(streaming, engine.Name, "op", 0, 1, [1]));
                await release.Task.WaitAsync(context.CancellationToken);
            }
        };

        // The carrier runs the stream and serves one more session; the other replica serves a session of its own, so
        // it has met the engine and could release sessions on it.
        using var stream = carrier.Client.ExecutePlan(new ExecutePlanRequest { SessionId = streaming }, Alice, cancellationToken: Cancel);
        Assert.IsTrue(await stream.ResponseStream.MoveNext(Cancel));
        await carrier.Client.ConfigAsync(new ConfigRequest { SessionId = idle }, Alice, cancellationToken: Cancel);
        var idleOnOther = GatewayHost.NewSessionId();
        await other.Client.ConfigAsync(new ConfigRequest { SessionId = idleOnOther }, Bob, cancellationToken: Cancel);

        // A call's session touch runs once the client has its trailers: waited for, so it is stamped before the clock moves.
        var carrierCalls = carrier.Services.GetRequiredService<ActiveCalls>();
        var otherCalls = other.Services.GetRequiredService<ActiveCalls>();
        Assert.IsTrue(await Polling.EventuallyAsync(() => !carrierCalls.IsActive(idle) && !otherCalls.IsActive(idleOnOther), TimeSpan.FromSeconds(10)), "the calls' touches were recorded");
        clock.Advance(TimeSpan.FromMinutes(11));
        var expiredByCarrier = await Expiry(carrier).ExpireIdleSessionsAsync(Cancel);
        var expiredByOther = await Expiry(other).ExpireIdleSessionsAsync(Cancel);

        var store = other.Services.GetRequiredService<ISessionStore>();
        Assert.IsNotNull(await store.GetAsync(streaming, Cancel), "the carrier marked its running stream's session as in use, so the other replica kept it");
        Assert.IsNull(await store.GetAsync(idle, Cancel));
        Assert.IsNull(await store.GetAsync(idleOnOther, Cancel));
        Assert.AreEqual(2, expiredByCarrier + expiredByOther);
        var released = engine.CallsTo("ReleaseSession").Select(c => ReleaseSessionRequest.Parser.ParseFrom(c.Requests.Single()).SessionId).Order(StringComparer.Ordinal).ToArray();
        CollectionAssert.AreEqual(new[] { idle, idleOnOther }.Order(StringComparer.Ordinal).ToArray(), released, "each idle session released on the engine once");

        release.SetResult();
        Assert.IsFalse(await stream.ResponseStream.MoveNext(Cancel));
    }

    private static SessionExpiryService Expiry(GatewayHost gateway)
        => gateway.Services.GetServices<IHostedService>().OfType<SessionExpiryService>().Single();

    private static Task<GatewayHost> StartReplicaAsync(RedisServer redis, RecordingEngine engine, string prefix, TimeProvider? clock = null)
        => RedisReplica.StartAsync(
            redis.Configuration,
            engine,
            prefix,
            o =>
            {
                o.Sessions.IdleTimeout = TimeSpan.FromMinutes(10);
                o.Sessions.ExpiryScanInterval = TimeSpan.FromDays(365); // the expiry test scans by hand
            },
            services: clock is null ? null : s => s.AddSingleton(clock));
}
