using Grpc.Core;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Sessions;

[TestClass]
public sealed class LimitTests
{
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);
    private static readonly Metadata Bob = GatewayHost.Bearer(GatewayHost.BobToken);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task MaxSessionsPerUser_RefusesTheNextAndFreesOnRelease()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Limits.MaxSessionsPerUser = 2);
        var first = GatewayHost.NewSessionId();
        await Config(gateway, first, Alice);
        await Config(gateway, GatewayHost.NewSessionId(), Alice);
        await Config(gateway, first, Alice);

        var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => Config(gateway, GatewayHost.NewSessionId(), Alice));
        await Config(gateway, GatewayHost.NewSessionId(), Bob);
        await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = first }, Alice, cancellationToken: Cancel);
        await Config(gateway, GatewayHost.NewSessionId(), Alice);

        Assert.AreEqual(StatusCode.ResourceExhausted, refused.StatusCode);
        StringAssert.Contains(refused.Status.Detail, "most sessions allowed (2)");
    }

    [TestMethod]
    public async Task MaxSessionsPerClientAddress_CountsAllUsersFromIt()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Limits.MaxSessionsPerClientAddress = 1);
        await Config(gateway, GatewayHost.NewSessionId(), Alice);

        var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => Config(gateway, GatewayHost.NewSessionId(), Bob));

        Assert.AreEqual(StatusCode.ResourceExhausted, refused.StatusCode);
        StringAssert.Contains(refused.Status.Detail, "127.0.0.1");
    }

    [TestMethod]
    public async Task DenyLists_ArePermissionDeniedAndNeverReachTheEngine()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using (var byUser = await GatewayHost.StartAsync(engine, o => o.Limits.DeniedUsers.Add("bob")))
        {
            var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => Config(byUser, GatewayHost.NewSessionId(), Bob));
            Assert.AreEqual(StatusCode.PermissionDenied, refused.StatusCode);
            await Config(byUser, GatewayHost.NewSessionId(), Alice);
        }

        await using (var byAddress = await GatewayHost.StartAsync(engine, o => o.Limits.DeniedClientAddresses.Add("127.0.0.0/8")))
        {
            var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => Config(byAddress, GatewayHost.NewSessionId(), Alice));
            Assert.AreEqual(StatusCode.PermissionDenied, refused.StatusCode);
            StringAssert.Contains(refused.Status.Detail, "127.0.0.1");
        }

        Assert.AreEqual(1, engine.Calls.Count);
    }

    [TestMethod]
    public async Task MaxConcurrentExecutionsPerUser_RefusesWhileRunningThenAllows()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Limits.MaxConcurrentExecutionsPerUser = 1);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Script = async (call, context, write) =>
        {
            if (call.Method == "ExecutePlan")
            {
                await write(DefaultResponses.ExecutionResponse("s", engine.Name, "op", 0, 1, [1]));
                await release.Task.WaitAsync(context.CancellationToken);
            }
        };
        var session = GatewayHost.NewSessionId();

        using (var running = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = session }, Alice, cancellationToken: Cancel))
        {
            Assert.IsTrue(await running.ResponseStream.MoveNext(Cancel));
            using var second = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = session }, Alice, cancellationToken: Cancel);
            var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => second.ResponseStream.MoveNext(Cancel));
            Assert.AreEqual(StatusCode.ResourceExhausted, refused.StatusCode);
            StringAssert.Contains(refused.Status.Detail, "running executions");
            release.SetResult();
            Assert.IsFalse(await running.ResponseStream.MoveNext(Cancel));
        }

        engine.Script = null;
        using var third = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        Assert.IsTrue(await third.ResponseStream.MoveNext(Cancel), "the slot is free again once the first stream ended");
    }

    private Task<ConfigResponse> Config(GatewayHost gateway, string session, Metadata headers)
        => gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, headers, cancellationToken: Cancel).ResponseAsync;
}
