using Grpc.Core;
using SparkConnect.Multiplexer.Kubernetes.Internal;
using SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;
using static SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure.KubernetesGateway;

using SparkConnect.Multiplexer.Testing;
using static SparkConnect.Multiplexer.Testing.Polling;

namespace SparkConnect.Multiplexer.Kubernetes.Tests.Discovery;

/// <summary>Discovery through a real gateway, against the stand-in API server (not a Kubernetes).</summary>
[TestClass]
public sealed class EnginePodDiscoveryTests
{
    private const string Restarts = "spark_connect.kubernetes.watch.restarts";
    private const string ReadyPods = "spark_connect.kubernetes.pods.ready";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Locate_ReadyPodWithKeyLabels_CallReachesEngineBehindPod()
    {
        await using var gateway = await StartAsync(o => o.LaunchEngines = false);
        var engine = await gateway.StartEngineAsync("pod-engine-alice");
        gateway.Api.AddPod(EnginePod("alice-engine", "alice", engine.Address.Port));
        gateway.Api.SetRunning(Namespace, "alice-engine", ready: true);
        await WaitServingAsync(gateway, Namespace, "alice-engine");

        var sessionId = GatewayHost.NewSessionId();
        var response = await gateway.Client.ConfigAsync(GetAll(sessionId), Alice, cancellationToken: TestContext.CancellationToken);

        Assert.AreEqual("pod-engine-alice", response.ServerSideSessionId);
        Assert.IsTrue(engine.CallsTo("Config").Count >= 1);
        Assert.AreEqual(0, gateway.Api.Requests.Count(r => r.StartsWith("POST", StringComparison.Ordinal)), "no pod is created when one serves the key");
    }

    [TestMethod]
    public async Task Locate_PodReadinessChanges_OnlyReadyPodIsChosenCountedReadyAndLossIsReported()
    {
        await using var gateway = await StartAsync(o => o.LaunchEngines = false);
        var engine = await gateway.StartEngineAsync("pod-engine-ready");
        gateway.Api.AddPod(EnginePod("alice-engine", "alice", engine.Address.Port));
        gateway.Api.SetRunning(Namespace, "alice-engine", ready: false);
        Assert.IsTrue(await EventuallyAsync(() => gateway.Cache.Get(Namespace, "alice-engine")?.Status?.Phase == "Running", Wait));
        Assert.AreEqual(0, gateway.Metrics.Observe(ReadyPods)[Namespace], "Running but not Ready is not counted");

        var notReady = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: TestContext.CancellationToken));
        Assert.AreEqual(StatusCode.Unavailable, notReady.StatusCode);
        Assert.AreEqual(0, engine.CallsTo("Config").Count);

        gateway.Api.SetRunning(Namespace, "alice-engine", ready: true);
        await WaitServingAsync(gateway, Namespace, "alice-engine");
        Assert.AreEqual(1, gateway.Metrics.Observe(ReadyPods)[Namespace]);
        var sessionId = GatewayHost.NewSessionId();
        var response = await gateway.Client.ConfigAsync(GetAll(sessionId), Alice, cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual("pod-engine-ready", response.ServerSideSessionId);

        var engineId = EnginePods.EngineIdOf(gateway.Cache.Get(Namespace, "alice-engine")!);
        gateway.Api.SetRunning(Namespace, "alice-engine", ready: false);
        Assert.IsTrue(await EventuallyAsync(() => gateway.Registry.IsLostFor(engineId, DateTimeOffset.MinValue, out _), Wait), "a pod that stops being Ready has its engine marked lost");
        var lost = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(GetAll(sessionId), Alice, cancellationToken: TestContext.CancellationToken));
        Assert.AreEqual(StatusCode.Unavailable, lost.StatusCode);
        Assert.AreEqual(0, gateway.Metrics.Observe(ReadyPods)[Namespace]);
    }

    [TestMethod]
    public async Task Watch_StreamClosedByServer_ReconnectsFromResourceVersionWithoutListingCountedAsResumed()
    {
        await using var gateway = await StartAsync(o => o.LaunchEngines = false);
        Assert.IsTrue(await EventuallyAsync(() => gateway.Api.OpenWatchCount == 2, Wait), "one watch per namespace");
        var lists = gateway.Cache.ListCount;
        var watches = gateway.Api.WatchRequestCount;

        gateway.Api.CloseWatches();
        Assert.IsTrue(await EventuallyAsync(() => gateway.Api.WatchRequestCount >= watches + 2 && gateway.Api.OpenWatchCount == 2, Wait), "the watches reconnect");
        var engine = await gateway.StartEngineAsync("after-reconnect");
        gateway.Api.AddPod(EnginePod("alice-engine", "alice", engine.Address.Port));
        gateway.Api.SetRunning(Namespace, "alice-engine", ready: true);
        await WaitServingAsync(gateway, Namespace, "alice-engine");

        var response = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual("after-reconnect", response.ServerSideSessionId);
        Assert.AreEqual(lists, gateway.Cache.ListCount, "a reconnect resumes from the resourceVersion: no new list");
        Assert.IsTrue(gateway.Api.Requests.Any(r => r.Contains("watch=true", StringComparison.Ordinal) && r.Contains("resourceVersion=1", StringComparison.Ordinal)));
        var restarts = string.Join(", ", gateway.Metrics.Of(Restarts).Select(r => $"{r.Tag("k8s.namespace.name")}:{r.Tag("kind")}"));
        Assert.AreEqual(1, gateway.Metrics.Count(Restarts, ("kind", "resumed"), ("k8s.namespace.name", Namespace)), restarts);
        Assert.AreEqual(1, gateway.Metrics.Count(Restarts, ("kind", "resumed"), ("k8s.namespace.name", OtherNamespace)), restarts);
        Assert.AreEqual(2, gateway.Metrics.Count(Restarts), "no relist, no failure: " + restarts);
    }

    [TestMethod]
    public async Task Watch_GoneAsErrorEvent_RelistsSeesPodsAddedMeanwhileAndCountsGone()
    {
        await using var gateway = await StartAsync(o => o.LaunchEngines = false);
        Assert.IsTrue(await EventuallyAsync(() => gateway.Api.OpenWatchCount == 2, Wait));
        var lists = gateway.Cache.ListCount;

        gateway.Api.ExpireWatchesWithErrorEvent();
        var engine = await gateway.StartEngineAsync("after-error-410");
        gateway.Api.AddPod(EnginePod("alice-engine", "alice", engine.Address.Port));
        gateway.Api.SetRunning(Namespace, "alice-engine", ready: true);

        Assert.IsTrue(await EventuallyAsync(() => gateway.Cache.ListCount >= lists + 2, Wait), "410 in a watch ERROR event makes every namespace list again");
        await WaitServingAsync(gateway, Namespace, "alice-engine");
        var response = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual("after-error-410", response.ServerSideSessionId);
        Assert.AreEqual(1, gateway.Metrics.Count(Restarts, ("kind", "gone"), ("k8s.namespace.name", Namespace)));
        Assert.AreEqual(1, gateway.Metrics.Count(Restarts, ("kind", "gone"), ("k8s.namespace.name", OtherNamespace)));
        Assert.AreEqual(0, gateway.Metrics.Count(Restarts, ("kind", "resumed")), "an ERROR event is not a clean end of stream");
    }

    [TestMethod]
    public async Task Watch_HttpGone_RelistsKeepsPodsStillThereAndCountsGone()
    {
        await using var gateway = await StartAsync(o => o.LaunchEngines = false);
        var engine = await gateway.StartEngineAsync("before-http-410");
        gateway.Api.AddPod(EnginePod("alice-engine", "alice", engine.Address.Port));
        gateway.Api.SetRunning(Namespace, "alice-engine", ready: true);
        await WaitServingAsync(gateway, Namespace, "alice-engine");
        var engineId = EnginePods.EngineIdOf(gateway.Cache.Get(Namespace, "alice-engine")!);
        Assert.IsTrue(await EventuallyAsync(() => gateway.Api.OpenWatchCount == 2, Wait));
        var lists = gateway.Cache.ListCount;

        // The next two watch requests (one per namespace) are answered HTTP 410.
        gateway.Api.ExpireWatchesWithHttpGone(2);

        Assert.IsTrue(await EventuallyAsync(() => gateway.Cache.ListCount >= lists + 2, Wait), "HTTP 410 makes the namespace list again: " + string.Join(Environment.NewLine, gateway.Host.Logs.Entries.Select(e => e.Message)));
        Assert.IsTrue(await EventuallyAsync(() => gateway.Api.OpenWatchCount == 2, Wait), "and watch again");
        Assert.IsFalse(gateway.Registry.IsLostFor(engineId, DateTimeOffset.MinValue, out _), "a pod still there after the relist is not lost");
        var response = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual("before-http-410", response.ServerSideSessionId);


        // Every relist since then followed a 410: the two HTTP ones (taken by whichever watch requests came first, so
        // both are used before both namespaces can watch again), or the watch ERROR event the stand-in sends a
        // namespace whose resourceVersion was compacted away meanwhile.
        var restarts = string.Join(", ", gateway.Metrics.Of(Restarts).Select(r => $"{r.Tag("k8s.namespace.name")}:{r.Tag("kind")}"));
        Assert.AreEqual(gateway.Cache.ListCount - lists, gateway.Metrics.Count(Restarts, ("kind", "gone")), restarts);
        Assert.IsGreaterThanOrEqualTo(2, gateway.Metrics.Count(Restarts, ("kind", "gone")), restarts);
        Assert.AreEqual(0, gateway.Metrics.Count(Restarts, ("kind", "resync")));
    }

    [TestMethod]
    public async Task Locate_NamespaceHint_AllowedNamespaceRoutedOtherRefused()
    {
        await using var gateway = await StartAsync(o => o.LaunchEngines = false);
        var engine = await gateway.StartEngineAsync("team-b-engine");
        gateway.Api.AddPod(EnginePod("alice-engine", "alice", engine.Address.Port, OtherNamespace));
        gateway.Api.SetRunning(OtherNamespace, "alice-engine", ready: true);
        await WaitServingAsync(gateway, OtherNamespace, "alice-engine");

        var response = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), With(Alice, "namespace", OtherNamespace), cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual("team-b-engine", response.ServerSideSessionId);

        var refused = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), With(Alice, "namespace", "kube-system"), cancellationToken: TestContext.CancellationToken));
        Assert.AreEqual(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Contains("kube-system", refused.Status.Detail);
        Assert.IsFalse(gateway.Api.Requests.Any(r => r.Contains("kube-system", StringComparison.Ordinal)), "a refused namespace is never asked about");

        // The default namespace (the first) has no engine for alice, and launching is off.
        var none = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: TestContext.CancellationToken));
        Assert.AreEqual(StatusCode.Unavailable, none.StatusCode);
    }

    private static async Task WaitServingAsync(KubernetesGateway gateway, string ns, string name)
        => Assert.IsTrue(
            await EventuallyAsync(() => gateway.Cache.Get(ns, name) is { } pod && EnginePods.IsServing(pod), Wait),
            $"the cache sees {ns}/{name} Running and Ready");
}
