using Grpc.Core;
using Spark.Connect;
using SparkConnect.Multiplexer.Kubernetes.Internal;
using SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;
using static SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure.KubernetesGateway;

using SparkConnect.Multiplexer.Testing;
using static SparkConnect.Multiplexer.Testing.Polling;

namespace SparkConnect.Multiplexer.Kubernetes.Tests.Launching;

/// <summary>Calls that cannot create a Spark session never create an engine pod (against the stand-in API server).</summary>
[TestClass]
public sealed class UnknownSessionTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task NonCreatingCalls_NoPodForKey_CreateNoPodAndAnswerAsSpark()
    {
        await using var gateway = await StartAsync();
        var session = GatewayHost.NewSessionId();

        var released = await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = session }, Bob, cancellationToken: Cancel);
        var status = await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.Client.GetStatusAsync(new GetStatusRequest { SessionId = session }, Bob, cancellationToken: Cancel).ResponseAsync);
        var release = await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.Client.ReleaseExecuteAsync(new ReleaseExecuteRequest { SessionId = session, OperationId = Guid.NewGuid().ToString(), ReleaseAll = new() }, Bob, cancellationToken: Cancel).ResponseAsync);

        Assert.AreEqual(session, released.SessionId);
        Assert.AreEqual(StatusCode.Internal, status.StatusCode);
        StringAssert.StartsWith(status.Status.Detail, "[INVALID_HANDLE.SESSION_NOT_FOUND]");
        Assert.AreEqual(StatusCode.Internal, release.StatusCode);
        Assert.IsEmpty(gateway.Api.Pods(Namespace), "no pod was created");
        Assert.AreEqual(0, gateway.Api.Requests.Count(r => r.StartsWith("POST", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task NonCreatingCalls_ReadyPodForKey_ReachItWithoutCreatingOne()
    {
        // A pod launched before this gateway (in-memory store) restarted still holds the session.
        await using var gateway = await StartAsync();
        var engine = await gateway.StartEngineAsync("pod-engine-alice");
        gateway.Api.AddPod(EnginePod("alice-engine", "alice", engine.Address.Port));
        gateway.Api.SetRunning(Namespace, "alice-engine", ready: true);
        Assert.IsTrue(await EventuallyAsync(() => gateway.Cache.Get(Namespace, "alice-engine") is { } pod && EnginePods.IsServing(pod), Wait));

        var released = await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);

        Assert.AreEqual("pod-engine-alice", released.ServerSideSessionId, "the pod's engine answered");
        Assert.HasCount(1, engine.CallsTo("ReleaseSession"));
        Assert.AreEqual(0, gateway.Api.Requests.Count(r => r.StartsWith("POST", StringComparison.Ordinal)));
    }
}
