using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Spark.Connect;
using SparkConnect.Multiplexer.Redis.Tests.Infrastructure;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Redis.Tests.Sessions;

/// <summary>Gateway replicas sharing a real Redis that fails: releases elsewhere, lost data, outages, bad credentials, TLS.</summary>
[TestClass]
public sealed class StoreFaultTests
{
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);
    private static readonly Metadata Bob = GatewayHost.Bearer(GatewayHost.BobToken);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task SessionsReleasedThroughAnotherReplica_FreeTheirSlotsOnTheReplicaThatOpenedThem()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var prefix = "slots-" + Guid.NewGuid().ToString("N");
        await using var first = await StartReplicaAsync(redis.SteadyConfiguration, engine, prefix, maxSessionsPerUser: 2);
        await using var second = await StartReplicaAsync(redis.SteadyConfiguration, engine, prefix, maxSessionsPerUser: 2);
        string[] opened = [GatewayHost.NewSessionId(), GatewayHost.NewSessionId()];
        foreach (var session in opened)
        {
            await first.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        }

        var full = await Assert.ThrowsExactlyAsync<RpcException>(() => first.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel).ResponseAsync);
        foreach (var session in opened)
        {
            await second.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        }

        await first.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);
        await first.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);

        Assert.AreEqual(StatusCode.ResourceExhausted, full.StatusCode, "the limit holds while her sessions exist");
        var refusedAgain = await Assert.ThrowsExactlyAsync<RpcException>(() => first.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel).ResponseAsync);
        Assert.AreEqual(StatusCode.ResourceExhausted, refusedAgain.StatusCode, "and holds again for the two she has now");
    }

    [TestMethod]
    public async Task RedisLosingItsData_IsAnIncident_FreesSlots_AndTheTakeoverIsLoggedApart()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var prefix = "lost-" + Guid.NewGuid().ToString("N");
        await using var first = await StartReplicaAsync(redis.SteadyConfiguration, engine, prefix, maxSessionsPerUser: 2);
        await using var second = await StartReplicaAsync(redis.SteadyConfiguration, engine, prefix, maxSessionsPerUser: 2);
        var taken = GatewayHost.NewSessionId();
        await first.Client.ConfigAsync(new ConfigRequest { SessionId = taken }, Alice, cancellationToken: Cancel);
        await first.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);
        await second.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Bob, cancellationToken: Cancel);

        Assert.AreEqual("OK", await redis.CommandAsync("FLUSHALL", Cancel) is var reply && reply.StartsWith('+') ? "OK" : reply);
        await second.Client.ConfigAsync(new ConfigRequest { SessionId = taken }, Bob, cancellationToken: Cancel);
        await first.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);
        var denied = await Assert.ThrowsExactlyAsync<RpcException>(() => first.Client.ConfigAsync(new ConfigRequest { SessionId = taken }, Alice, cancellationToken: Cancel).ResponseAsync);

        Assert.AreEqual(StatusCode.PermissionDenied, denied.StatusCode, "the documented consequence: the id now belongs to its new claimant");
        Assert.IsTrue(second.Logs.Entries.Any(e => e.Level == LogLevel.Critical && e.Message.Contains("INCIDENT", StringComparison.Ordinal) && e.Message.Contains("lost its state", StringComparison.Ordinal)), "the loss is an incident");
        Assert.IsTrue(second.Logs.Entries.Any(e => e.Level == LogLevel.Warning && e.Message.Contains(taken, StringComparison.Ordinal) && e.Message.Contains("after the session store lost its state", StringComparison.Ordinal)), "bob's claim is logged as a possible takeover, not as an ordinary opening");
        var bobsCall = engine.CallsTo("Config").Last(c => ConfigRequest.Parser.ParseFrom(c.Requests.Single()).SessionId == taken);
        Assert.AreEqual("bob", ConfigRequest.Parser.ParseFrom(bobsCall.Requests.Single()).UserContext.UserId, "the engine keys bob's session by bob, not by alice");
    }

    [TestMethod]
    public async Task RedisDown_HealthAndCallsAnswerAtOnce_WithAShortMessage_AndRecover()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);

        // The client library's own timeouts are far longer than the deadlines below: only failing fast meets them.
        var configuration = redis.Configuration.Replace("syncTimeout=2000,asyncTimeout=2000", "syncTimeout=120000,asyncTimeout=120000", StringComparison.Ordinal);
        await using var gateway = await StartReplicaAsync(configuration, engine, "down-" + Guid.NewGuid().ToString("N"));
        var health = new Health.HealthClient(gateway.Channel);
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);

        await redis.KillAsync();
        var failures = new List<RpcException>();
        for (var i = 0; i < 3; i++)
        {
            failures.Add(await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Cancel).ResponseAsync));
        }

        var status = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Cancel);

        Assert.AreEqual(HealthCheckResponse.Types.ServingStatus.NotServing, status.Status);
        foreach (var failure in failures)
        {
            Assert.AreEqual(StatusCode.Unavailable, failure.StatusCode, failure.Status.Detail);
            StringAssert.Contains(failure.Status.Detail, "session store is unreachable");
            Assert.IsLessThan(160, failure.Status.Detail.Length, "the client is told what happened, not the client library's internals: " + failure.Status.Detail);
            Assert.DoesNotContain(redis.Endpoint, failure.Status.Detail);
        }

        Assert.IsTrue(gateway.Logs.Entries.Any(e => e.Level == LogLevel.Error && e.Message.Contains("out of reach", StringComparison.Ordinal)), "the detail is logged");

        await redis.RunAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);
                break;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, Cancel);
            }
        }

        Assert.AreEqual(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest(), cancellationToken: Cancel)).Status);
        Assert.IsTrue(gateway.Logs.Entries.Any(e => e.Level == LogLevel.Critical && e.Message.Contains("lost its state", StringComparison.Ordinal)), "Redis came back empty (no persistence): an incident");
    }

    [TestMethod]
    public async Task WrongPassword_IsReportedAsAnAuthenticationFailure()
    {
        await using var redis = await RedisServer.StartAsync("--requirepass", "the-right-password");
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await StartReplicaAsync(redis.Configuration + ",password=a-wrong-password", engine, "auth-" + Guid.NewGuid().ToString("N"));

        var failure = await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel).ResponseAsync);

        Assert.AreEqual(StatusCode.Unavailable, failure.StatusCode);
        var errors = gateway.Logs.Entries.Where(e => e.Level >= LogLevel.Warning).Select(e => e.Message).ToList();
        Assert.IsTrue(errors.Any(m => m.Contains("authentication failure", StringComparison.Ordinal) && m.Contains("password", StringComparison.Ordinal)), string.Join(Environment.NewLine, errors));
        Assert.IsFalse(errors.Any(m => m.Contains("not reachable", StringComparison.Ordinal) || m.Contains("out of reach", StringComparison.Ordinal)), "a reachable Redis that refuses the password is not an outage");
        Assert.IsFalse(errors.Any(m => m.Contains("a-wrong-password", StringComparison.Ordinal)), "the password is never logged");
    }

    [TestMethod]
    public async Task TlsWithAPrivateCa_NeedsCertificateAuthorityPath_AndWorksWithIt()
    {
        await using var redis = await RedisServer.StartTlsAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var session = GatewayHost.NewSessionId();

        await using (var untrusting = await StartReplicaAsync(redis.Configuration, engine, "tls-" + Guid.NewGuid().ToString("N")))
        {
            var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => untrusting.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel).ResponseAsync);
            Assert.AreEqual(StatusCode.Unavailable, refused.StatusCode, "the machine does not trust the test CA");
        }

        await using var trusting = await StartReplicaAsync(redis.Configuration, engine, "tls-" + Guid.NewGuid().ToString("N"), caPath: Path.Combine(redis.Directory, "ca.pem"));
        await trusting.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);

        Assert.AreEqual("alice", (await trusting.Services.GetRequiredService<ISessionStore>().GetAsync(session, Cancel))?.Owner);
    }

    private static Task<GatewayHost> StartReplicaAsync(string configuration, RecordingEngine engine, string prefix, int maxSessionsPerUser = 0, string? caPath = null)
        => RedisReplica.StartAsync(configuration, engine, prefix, o => o.Limits.MaxSessionsPerUser = maxSessionsPerUser, o => o.CertificateAuthorityPath = caPath);
}
