using System.Diagnostics.Metrics;
using Grpc.Core;
using Spark.Connect;
using SparkConnect.Multiplexer.Admission;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Admission;

/// <summary>
/// Call rate limits through the real gateway. Rates are 1 per second with small bursts and a run of calls well above
/// them, so refusals happen however slow the machine is (a run of 12 calls would have to take 10 s to pass).
/// </summary>
[TestClass]
public sealed class RateLimitTests
{
    private const int Calls = 12;
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);
    private static readonly Metadata Bob = GatewayHost.Bearer(GatewayHost.BobToken);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task CallsPerSecondPerUser_RefusesOverTheBurst_WithRetryInfo_AndLeavesOtherUsersAlone()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o =>
        {
            o.Limits.CallsPerSecondPerUser = 1;
            o.Limits.CallBurstPerUser = 2;
        });
        var session = GatewayHost.NewSessionId();

        var meterFactory = (IMeterFactory)gateway.Services.GetService(typeof(IMeterFactory))!;
        var rateLimited = new List<(long Value, object? Limit)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Name == "spark_connect.gateway.calls.rate_limited" && instrument.Meter.Scope == meterFactory.Create("SparkConnect.Multiplexer").Scope)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            lock (rateLimited)
            {
                rateLimited.Add((value, tags.ToArray().Single(t => t.Key == "spark_connect.limit").Value));
            }
        });
        listener.Start();

        var outcomes = await RunAsync(gateway, session, Alice);
        await Config(gateway, GatewayHost.NewSessionId(), Bob);

        var refused = outcomes.OfType<RpcException>().ToList();
        Assert.IsGreaterThanOrEqualTo(2, outcomes.Count(o => o is null), "the burst passes");
        Assert.IsNotEmpty(refused, "calls over the rate are refused");
        foreach (var refusal in refused)
        {
            Assert.AreEqual(StatusCode.ResourceExhausted, refusal.StatusCode);
            StringAssert.Contains(refusal.Status.Detail, "User 'alice' is over the call rate allowed (1 per second, bursts of 2)");
            var delay = LimitTests.RetryDelayOf(refusal);
            Assert.IsNotNull(delay, "RetryInfo tells Spark clients to wait and retry rather than fail the query");
            Assert.IsTrue(delay > TimeSpan.Zero && delay <= TimeSpan.FromSeconds(1), $"the wait is until the next token: {delay}");
        }

        Assert.AreEqual(Calls - refused.Count + 1, engine.Calls.Count, "refused calls never reach the engine; bob's call does");
        lock (rateLimited)
        {
            Assert.AreEqual(refused.Count, rateLimited.Sum(m => m.Value), "each refusal is counted");
            Assert.IsTrue(rateLimited.All(m => (string?)m.Limit == "user"));
        }
    }

    [TestMethod]
    public async Task CallsPerSecondPerClientAddress_CountsCallsBeforeAuthentication()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o =>
        {
            o.Limits.CallsPerSecondPerClientAddress = 1;
            o.Authentication.Throttle.MaxFailures = 0;
            o.Authentication.Throttle.MaxFailuresPerAddress = 0;
        });

        var outcomes = await RunAsync(gateway, GatewayHost.NewSessionId(), GatewayHost.Bearer("not-a-token-of-anyone-0123456789"));

        var statuses = outcomes.Select(o => o!.StatusCode).ToList();
        CollectionAssert.IsSubsetOf(statuses.Distinct().ToList(), new[] { StatusCode.Unauthenticated, StatusCode.ResourceExhausted });
        Assert.Contains(StatusCode.Unauthenticated, statuses, "the first call reaches authentication");
        var refusal = outcomes.First(o => o!.StatusCode == StatusCode.ResourceExhausted)!;
        StringAssert.Contains(refusal.Status.Detail, "Client address 127.0.0.1 is over the call rate allowed");
        Assert.IsNotNull(LimitTests.RetryDelayOf(refusal));
    }

    [TestMethod]
    public async Task UserAndGroupEntries_ReplaceTheGeneralLimits_ForTheirMembersOnly()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o =>
        {
            o.Limits.CallsPerSecondPerUser = 1;
            o.Limits.CallBurstPerUser = 1;
            o.Limits.Groups["eng"] = new UserLimitOptions { CallsPerSecond = 0, MaxSessions = 1 };
            o.Limits.Users["bob"] = new UserLimitOptions { MaxConcurrentExecutions = 0 };
        });

        var alice = await RunAsync(gateway, GatewayHost.NewSessionId(), Alice);
        var bob = await RunAsync(gateway, GatewayHost.NewSessionId(), Bob);
        var secondSession = await Assert.ThrowsExactlyAsync<RpcException>(() => Config(gateway, GatewayHost.NewSessionId(), Alice));

        Assert.IsTrue(alice.All(o => o is null), "alice's group lifts the call rate for her");
        Assert.IsTrue(bob.Any(o => o?.StatusCode == StatusCode.ResourceExhausted), "bob, in no group, keeps the general rate; his own entry does not set one");
        Assert.AreEqual(StatusCode.ResourceExhausted, secondSession.StatusCode);
        StringAssert.Contains(secondSession.Status.Detail, "most sessions allowed (1)", "the group's MaxSessions applies to alice");
    }

    [TestMethod]
    public void Buckets_AreDroppedOnceRefilled_SoAFloodOfKeysDoesNotStay()
    {
        var buckets = new KeyedTokenBuckets(TimeProvider.System);

        // Buckets that refill within a microsecond: the sweep that runs past the threshold finds nearly all full.
        for (var i = 0; i < KeyedTokenBuckets.SweepThreshold + 2_000; i++)
        {
            Assert.IsNull(buckets.TryTake("a:10.0." + i.ToString(System.Globalization.CultureInfo.InvariantCulture), CallRateLimits.MaxCallsPerSecond, 1));
        }

        Assert.IsLessThan(KeyedTokenBuckets.SweepThreshold + 2_000, buckets.Count, "a sweep ran when the number of buckets passed the threshold");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (buckets.Count > 0 && DateTime.UtcNow < deadline)
        {
            buckets.Sweep();
            Thread.Sleep(1);
        }

        Assert.AreEqual(0, buckets.Count, "every refilled bucket is dropped");
        Assert.IsNull(buckets.TryTake("a:10.0.0", 1, 1), "a dropped key starts again with a full bucket");
        Assert.IsNotNull(buckets.TryTake("a:10.0.0", 1, 1), "and the bucket counts again");
    }

    /// <returns>Per call, null when it succeeded, else its failure.</returns>
    private async Task<List<RpcException?>> RunAsync(GatewayHost gateway, string session, Metadata headers)
    {
        var outcomes = new List<RpcException?>();
        for (var i = 0; i < Calls; i++)
        {
            try
            {
                await Config(gateway, session, headers);
                outcomes.Add(null);
            }
            catch (RpcException e)
            {
                outcomes.Add(e);
            }
        }

        return outcomes;
    }

    private Task<ConfigResponse> Config(GatewayHost gateway, string session, Metadata headers)
        => gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, headers, cancellationToken: Cancel).ResponseAsync;
}
