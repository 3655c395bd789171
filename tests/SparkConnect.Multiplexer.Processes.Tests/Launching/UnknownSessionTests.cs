using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Spark.Connect;
using SparkConnect.Multiplexer.Processes.Tests.Infrastructure;
using static SparkConnect.Multiplexer.Processes.Tests.Infrastructure.LaunchingGateway;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Processes.Tests.Launching;

/// <summary>Calls that cannot create a Spark session never launch an engine process.</summary>
[TestClass]
public sealed class UnknownSessionTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task NonCreatingCalls_UnknownSessionNoEngine_LaunchNoProcess()
    {
        await using var gateway = await StartAsync(static _ => { });
        var released = GatewayHost.NewSessionId();

        var release = await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = released }, Alice, cancellationToken: Cancel);
        var failures = new List<RpcException>
        {
            await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            {
                using var call = gateway.Client.ReattachExecute(new ReattachExecuteRequest { SessionId = GatewayHost.NewSessionId(), OperationId = Guid.NewGuid().ToString() }, Alice, cancellationToken: Cancel);
                await call.ResponseStream.MoveNext(Cancel);
            }),
            await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.Client.ReleaseExecuteAsync(new ReleaseExecuteRequest { SessionId = GatewayHost.NewSessionId(), OperationId = Guid.NewGuid().ToString(), ReleaseAll = new() }, Alice, cancellationToken: Cancel).ResponseAsync),
            await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.Client.GetStatusAsync(new GetStatusRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel).ResponseAsync),
            await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.Client.CloneSessionAsync(new CloneSessionRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel).ResponseAsync),
        };

        Assert.AreEqual(released, release.SessionId);
        foreach (var failure in failures)
        {
            Assert.AreEqual(StatusCode.Internal, failure.StatusCode);
            StringAssert.StartsWith(failure.Status.Detail, "[INVALID_HANDLE.SESSION_NOT_FOUND]");
            Assert.IsNotNull(failure.Trailers.GetValueBytes("grpc-status-details-bin"));
        }

        Assert.IsEmpty(gateway.Engines.StartedProcessIds, "no engine process was launched");
        Assert.IsEmpty(gateway.Engines.Engines);
    }

    [TestMethod]
    public async Task NonCreatingCalls_EngineRunsForKey_ReachItWithoutAnotherLaunch()
    {
        await using var gateway = await StartAsync(static _ => { });
        var session = GatewayHost.NewSessionId();
        await gateway.Client.ConfigAsync(GetAll(session), Alice, cancellationToken: Cancel);
        var engine = gateway.Engines.Engines.Single();

        // As after a gateway restart with an in-memory store: the session is gone from the store, its engine still runs.
        var store = gateway.Host.Services.GetRequiredService<ISessionStore>();
        Assert.IsNotNull(await store.RemoveAsync(session, Cancel));
        var status = await gateway.Client.GetStatusAsync(new GetStatusRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        var released = await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = session }, Alice, cancellationToken: Cancel);

        Assert.AreEqual(engine.Id, status.ServerSideSessionId, "the running engine answered");
        Assert.AreEqual(engine.Id, released.ServerSideSessionId, "the running engine answered");
        Assert.AreEqual(1, gateway.Engines.StartedProcessIds.Count, "no second launch");
        Assert.IsNull(await store.GetAsync(session, Cancel), "released");
    }

    [TestMethod]
    public async Task ExecutePlan_UnknownSession_StillLaunches()
    {
        await using var gateway = await StartAsync(static _ => { });

        using (var call = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = GatewayHost.NewSessionId(), Plan = new Plan() }, Alice, cancellationToken: Cancel))
        {
            while (await call.ResponseStream.MoveNext(Cancel))
            {
            }
        }

        Assert.AreEqual(1, gateway.Engines.StartedProcessIds.Count);
    }
}
