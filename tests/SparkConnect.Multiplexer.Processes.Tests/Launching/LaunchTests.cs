using Grpc.Core;
using SparkConnect.Multiplexer.Processes.Tests.Infrastructure;
using static SparkConnect.Multiplexer.Processes.Tests.Infrastructure.LaunchingGateway;

using SparkConnect.Multiplexer.Testing;
using static SparkConnect.Multiplexer.Testing.Polling;

namespace SparkConnect.Multiplexer.Processes.Tests.Launching;

[TestClass]
public sealed class LaunchTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task FirstCall_LaunchesEngine_AndIsForwardedToIt()
    {
        await using var gateway = await StartAsync(static _ => { });
        var session = GatewayHost.NewSessionId();

        var response = await gateway.Client.ConfigAsync(GetAll(session), Alice, cancellationToken: Cancel);

        var engine = gateway.Engines.Engines.Single();
        Assert.AreEqual(session, response.SessionId);
        Assert.AreEqual(engine.Id, response.ServerSideSessionId, "the launched process answered");
        StringAssert.StartsWith(engine.Id, "process:USER/alice/default:");
        Assert.AreEqual(1, gateway.Engines.StartedProcessIds.Count);
        Assert.IsTrue(gateway.Host.Logs.Entries.Any(e => e.Message.Contains("is ready at", StringComparison.Ordinal) && e.Message.Contains(engine.Id, StringComparison.Ordinal)));

        // The same session and a second session of the same user stay on it; another user gets an engine of their own.
        var again = await gateway.Client.ConfigAsync(GetAll(session), Alice, cancellationToken: Cancel);
        var second = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel);
        var bob = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Bob, cancellationToken: Cancel);
        Assert.AreEqual(engine.Id, again.ServerSideSessionId);
        Assert.AreEqual(engine.Id, second.ServerSideSessionId);
        StringAssert.StartsWith(bob.ServerSideSessionId, "process:USER/bob/default:");
        Assert.AreEqual(2, gateway.Engines.StartedProcessIds.Count);

        // stdout and stderr go to engine.log in the engine's own directory.
        var log = Directory.GetFiles(gateway.WorkRoot, "engine.log", SearchOption.AllDirectories);
        Assert.HasCount(2, log);
        Assert.IsTrue(log.Any(l => File.ReadAllText(l).Contains($"test engine {engine.Id} listening", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task EngineToken_IsGivenToTheEngine_AndPresentedByTheGateway()
    {
        // The test engine refuses every call without this token, like Spark 4 with SPARK_CONNECT_AUTHENTICATE_TOKEN:
        // it only becomes ready, and only answers, if the gateway presents the secret it made for this engine.
        await using var gateway = await StartAsync(static o => o.Environment["SPARK_CONNECT_AUTHENTICATE_TOKEN"] = "{engineToken}");

        var response = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel);

        Assert.AreEqual(gateway.Engines.Engines.Single().Id, response.ServerSideSessionId);
        Assert.IsFalse(gateway.Host.Logs.Entries.Any(e => e.Message.Contains("SPARK_CONNECT_AUTHENTICATE_TOKEN=", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task TwentyConcurrentFirstCalls_LaunchOneEngine()
    {
        await using var gateway = await StartAsync(static _ => { });

        var calls = Enumerable.Range(0, 20)
            .Select(_ => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync)
            .ToList();
        var responses = await Task.WhenAll(calls);

        Assert.AreEqual(1, gateway.Engines.StartedProcessIds.Count, "exactly one process launched");
        Assert.AreEqual(1, responses.Select(r => r.ServerSideSessionId).Distinct().Count());
        Assert.AreEqual(gateway.Engines.Engines.Single().Id, responses[0].ServerSideSessionId);
    }

    [TestMethod]
    public async Task CancelledWaiter_DoesNotStopTheLaunchForOthers()
    {
        await using var gateway = await StartAsync(static _ => { });
        using var impatient = CancellationTokenSource.CreateLinkedTokenSource(Cancel);

        var first = gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: impatient.Token).ResponseAsync;
        Assert.IsTrue(await EventuallyAsync(() => gateway.Engines.Engines.Count == 1, TimeSpan.FromSeconds(10)));
        var second = gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync;
        await impatient.CancelAsync();

        var cancelled = await Assert.ThrowsExactlyAsync<RpcException>(() => first);
        Assert.AreEqual(StatusCode.Cancelled, cancelled.StatusCode);
        var response = await second;
        Assert.AreEqual(gateway.Engines.Engines.Single().Id, response.ServerSideSessionId);
        Assert.AreEqual(1, gateway.Engines.StartedProcessIds.Count);
    }

    [TestMethod]
    public async Task GatewayStop_StopsLaunchedEngines()
    {
        var gateway = await StartAsync(static _ => { });
        int processId;
        try
        {
            await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel);
            processId = gateway.Engines.StartedProcessIds.Single();
            Assert.IsTrue(IsAlive(processId));
        }
        finally
        {
            await gateway.DisposeAsync();
        }

        Assert.IsFalse(IsAlive(processId), "the engine was stopped with the gateway");
        Assert.IsTrue(gateway.Host.Logs.Entries.Any(e => e.Message.Contains("exited gracefully: True", StringComparison.Ordinal)), "SIGTERM was enough");
    }
}
