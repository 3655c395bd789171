using Microsoft.Extensions.DependencyInjection;
using Grpc.Core;
using Spark.Connect;
using SparkConnect.Multiplexer.Redis.Tests.Infrastructure;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Redis.Tests.Sessions;

/// <summary><c>Redis:ShareLimits</c>: session limits and call rates counted across replicas.</summary>
[TestClass]
public sealed class SharedLimitTests
{
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task SessionLimit_CountsTheSessionsOfEveryReplica_AndFollowsReleasesAnywhere()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var prefix = "shared-limits-" + Guid.NewGuid().ToString("N");
        await using var first = await StartReplicaAsync(redis, engine, prefix, o => o.MaxSessionsPerUser = 2);
        await using var second = await StartReplicaAsync(redis, engine, prefix, o => o.MaxSessionsPerUser = 2);
        var onSecond = GatewayHost.NewSessionId();
        await Config(first, GatewayHost.NewSessionId());
        await Config(second, onSecond);

        var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => Config(first, GatewayHost.NewSessionId()));
        await first.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = onSecond }, Alice, cancellationToken: Cancel);
        await Config(second, GatewayHost.NewSessionId());

        Assert.AreEqual(StatusCode.ResourceExhausted, refused.StatusCode, "each replica holds one of her sessions: only a shared count reaches 2");
        StringAssert.Contains(refused.Status.Detail, "most sessions allowed (2)");
    }

    [TestMethod]
    public async Task CallRate_IsOneBucketForAllReplicas()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var prefix = "shared-rate-" + Guid.NewGuid().ToString("N");
        Action<GatewayLimitOptions> rate = o =>
        {
            o.CallsPerSecondPerUser = 1;
            o.CallBurstPerUser = 3;
        };
        await using var first = await StartReplicaAsync(redis, engine, prefix, rate);
        await using var second = await StartReplicaAsync(redis, engine, prefix, rate);
        var session = GatewayHost.NewSessionId();

        // Six calls on each replica at once: each replica's own bucket would admit all six.
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 12).Select(async i =>
        {
            try
            {
                await Config(i % 2 == 0 ? first : second, session);
                return null;
            }
            catch (RpcException e)
            {
                return e;
            }
        }));
        var elapsed = stopwatch.Elapsed;
        var refused = outcomes.OfType<RpcException>().ToList();
        var admitted = outcomes.Length - refused.Count;

        // One shared bucket of 3 refilling at 1 call/s admits at most 3 plus one per second the calls took, however
        // slow the machine; a bucket per replica would admit 6 at once.
        Assert.IsLessThanOrEqualTo(3 + (int)Math.Ceiling(elapsed.TotalSeconds), admitted, $"{admitted} calls admitted in {elapsed.TotalSeconds:F1} s");
        Assert.IsNotEmpty(refused);
        Assert.IsTrue(refused.All(e => e.StatusCode == StatusCode.ResourceExhausted && e.Status.Detail.Contains("over the call rate", StringComparison.Ordinal)));
    }

    private Task<ConfigResponse> Config(GatewayHost gateway, string session)
        => gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel).ResponseAsync;

    private static Task<GatewayHost> StartReplicaAsync(RedisServer redis, RecordingEngine engine, string prefix, Action<GatewayLimitOptions> limits)
        => RedisReplica.StartAsync(redis.SteadyConfiguration, engine, prefix, o => limits(o.Limits), o => o.ShareLimits = true);
}
