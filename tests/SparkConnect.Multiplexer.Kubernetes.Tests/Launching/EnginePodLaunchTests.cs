using System.Globalization;
using Grpc.Core;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using SparkConnect.Multiplexer.Kubernetes.Internal;
using SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;
using static SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure.KubernetesGateway;

using SparkConnect.Multiplexer.Testing;
using static SparkConnect.Multiplexer.Testing.Polling;

namespace SparkConnect.Multiplexer.Kubernetes.Tests.Launching;

/// <summary>Launching, timeouts and clean-up through a real gateway, against the stand-in API server (not a Kubernetes).</summary>
[TestClass]
public sealed class EnginePodLaunchTests
{
    private const string Launched = "spark_connect.kubernetes.engines.launched";
    private const string LaunchDuration = "spark_connect.kubernetes.engine.launch.duration";
    private const string Deleted = "spark_connect.kubernetes.pods.deleted";
    private const string ReadyPods = "spark_connect.kubernetes.pods.ready";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Locate_NoPodForKeyTwoCalls_SecondJoinsTheOneLaunchOfALabelledPodRoutedWhenReady()
    {
        // The engine the pod will stand for; its port goes into the pod template.
        await using var engine = await TestEngine.RecordingEngine.StartAsync("launched-engine", TestContext.CancellationToken);
        var port = engine.Address.Port;
        await using var launching = await StartAsync(
            o =>
            {
                o.PodTemplate.Port = port;
                o.PodTemplate.Impersonation = true;
                o.PodTemplate.ServiceAccountName = "spark";
                o.PodTemplate.Confs["spark.executor.instances"] = "2";
                o.PodTemplate.Confs["spark.kubernetes.driver.pod.name"] = "{podName}";
                o.PodTemplate.Environment["SPARK_USER"] = "{user}";
            },
            // The locator says at Debug when a session waits for a launch under way.
            services => services.AddLogging(b => b.AddFilter("SparkConnect.Multiplexer.Kubernetes", LogLevel.Debug)));

        // Two new sessions of bob, the second while the first one's pod creation is held by the API server: the
        // second must wait for that launch (single flight), not create a pod of its own.
        launching.Api.HoldPodCreates();
        var measured = System.Diagnostics.Stopwatch.StartNew();
        var first = launching.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Bob, cancellationToken: TestContext.CancellationToken).ResponseAsync;
        await launching.Api.PodCreateHeld.WaitAsync(Wait, TestContext.CancellationToken);
        var second = launching.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Bob, cancellationToken: TestContext.CancellationToken).ResponseAsync;
        Assert.IsTrue(await EventuallyAsync(() => JoinedLaunches(launching) == 1, Wait), $"the second call waits for the first call's launch; pod creations: {launching.Api.PodCreateRequestCount}");
        Assert.AreEqual(1, launching.Api.PodCreateRequestCount, "one pod creation while the second call waits");
        Assert.IsFalse(first.IsCompleted || second.IsCompleted, "no answer while the pod is being created");
        launching.Api.ReleasePodCreates();
        Assert.IsTrue(await EventuallyAsync(() => launching.Api.Pods(Namespace).Count >= 1, Wait), "the gateway creates a pod");
        var pod = launching.Api.Pods(Namespace)[0];

        var labels = pod.Metadata.Labels;
        Assert.AreEqual("USER", labels["spark-connect-multiplexer/share-level"]);
        Assert.AreEqual("bob", labels["spark-connect-multiplexer/owner"]);
        Assert.AreEqual("default", labels["spark-connect-multiplexer/subdomain"]);
        Assert.AreEqual("spark-connect-multiplexer", labels["app.kubernetes.io/managed-by"]);
        Assert.AreEqual(port.ToString(CultureInfo.InvariantCulture), labels[KubernetesEngineOptions.DefaultPortLabel]);
        Assert.StartsWith("spark-connect-bob-", pod.Metadata.Name);
        Assert.AreEqual("spark", pod.Spec.ServiceAccountName);
        var container = pod.Spec.Containers.Single();
        Assert.AreEqual("apache/spark:4.0.1", container.Image);
        var args = string.Join(' ', container.Args);
        StringAssert.Contains(args, "--proxy-user bob");
        StringAssert.Contains(args, $"--conf spark.connect.grpc.binding.port={port}");
        StringAssert.Contains(args, "--conf spark.executor.instances=2");
        StringAssert.Contains(args, $"--conf spark.kubernetes.driver.pod.name={pod.Metadata.Name}");
        Assert.AreEqual("bob", container.Env.Single(e => e.Name == "SPARK_USER").Value);
        Assert.AreEqual("status.podIP", container.Env.Single(e => e.Name == "SPARK_DRIVER_BIND_ADDRESS").ValueFrom.FieldRef.FieldPath);
        Assert.AreEqual(port, container.Ports.Single(p => p.Name == "spark-connect").ContainerPort);
        Assert.IsFalse(first.IsCompleted, "no answer before the pod is Ready");

        // The kubelet's part: Running, then Ready.
        launching.Api.SetRunning(Namespace, pod.Metadata.Name, ready: false);
        launching.Api.SetRunning(Namespace, pod.Metadata.Name, ready: true);

        Assert.AreEqual("launched-engine", (await first).ServerSideSessionId);
        Assert.AreEqual("launched-engine", (await second).ServerSideSessionId);
        measured.Stop();
        // Both calls have been through the locator now: a second launch would have left a second pod and POST.
        Assert.HasCount(1, launching.Api.Pods(Namespace));
        Assert.AreEqual(1, launching.Api.PodCreateRequestCount);
        Assert.AreEqual(1, JoinedLaunches(launching), "the first call launched, the second joined");
        var store = launching.Host.Services.GetRequiredService<ISessionStore>();
        var engines = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var session in store.ListAsync(TestContext.CancellationToken))
        {
            engines.Add(session.EngineId);
        }

        Assert.AreEqual(EnginePods.EngineIdOf(launching.Api.Pod(Namespace, pod.Metadata.Name)!), engines.Single(), "both sessions are bound to the one pod's engine");

        // One launch for both waiters, ready, timed from the request to Ready: within what the test itself saw.
        var launch = launching.Metrics.Of(Launched).Single();
        Assert.AreEqual("ready", launch.Tag("outcome"));
        Assert.AreEqual(Namespace, launch.Tag("k8s.namespace.name"));
        Assert.AreEqual(1, launch.Value);
        var duration = launching.Metrics.Of(LaunchDuration, ("outcome", "ready")).Single();
        Assert.IsTrue(duration.Value > 0 && duration.Value <= measured.Elapsed.TotalSeconds, $"launch duration {duration.Value} s, the test saw {measured.Elapsed.TotalSeconds} s");
        Assert.AreEqual(1, launching.Metrics.Observe(ReadyPods)[Namespace]);
        Assert.AreEqual(0, launching.Metrics.Observe(ReadyPods)[OtherNamespace]);
        Assert.IsEmpty(launching.Metrics.Of(Deleted));
    }

    /// <summary>How many sessions of bob waited for a launch under way (the locator's Debug line).</summary>
    private static int JoinedLaunches(KubernetesGateway gateway)
        => gateway.Host.Logs.Entries.Count(e => e.Message.StartsWith("A session for ", StringComparison.Ordinal) && e.Message.Contains("bob", StringComparison.Ordinal) && e.Message.Contains("waits for the engine pod launch", StringComparison.Ordinal));

    [TestMethod]
    public async Task Locate_PodNotReadyInTime_UnavailableWithStatusSummaryPodDeletedAndMeasuredAsTimeout()
    {
        await using var gateway = await StartAsync(o => o.InitializationTimeout = TimeSpan.FromSeconds(2));

        var call = gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: TestContext.CancellationToken).ResponseAsync;
        Assert.IsTrue(await EventuallyAsync(() => gateway.Api.Pods(Namespace).Count == 1, Wait));
        var name = gateway.Api.Pods(Namespace).Single().Metadata.Name;
        gateway.Api.Update(Namespace, name, pod =>
        {
            pod.Status.Conditions = [new V1PodCondition { Type = "PodScheduled", Status = "True" }, new V1PodCondition { Type = "Ready", Status = "False", Reason = "ContainersNotReady" }];
            pod.Status.ContainerStatuses =
            [
                new V1ContainerStatus
                {
                    Name = "spark-kubernetes-driver",
                    Image = "apache/spark:4.0.1",
                    ImageID = "",
                    Ready = false,
                    RestartCount = 0,
                    State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "ImagePullBackOff", Message = "Back-off pulling image" } },
                },
            ];
        });
        gateway.Api.AddEvent(Namespace, name, "Warning", "Failed", "Failed to pull image \"apache/spark:4.0.1\": not found");

        var failure = await Assert.ThrowsExactlyAsync<RpcException>(async () => await call);

        Assert.AreEqual(StatusCode.Unavailable, failure.StatusCode);
        var detail = failure.Status.Detail;
        StringAssert.Contains(detail, "phase Pending");
        StringAssert.Contains(detail, "Ready=False (ContainersNotReady)");
        StringAssert.Contains(detail, "ImagePullBackOff");
        StringAssert.Contains(detail, "Failed to pull image");
        StringAssert.Contains(detail, "InitializationTimeout");
        Assert.IsEmpty(gateway.Api.Pods(Namespace), "the pod that did not become ready is deleted");
        Assert.AreEqual(1, gateway.Metrics.Count(Launched, ("outcome", "timeout"), ("k8s.namespace.name", Namespace)));
        Assert.AreEqual(0, gateway.Metrics.Count(Launched, ("outcome", "ready")) + gateway.Metrics.Count(Launched, ("outcome", "failed")));
        var duration = gateway.Metrics.Of(LaunchDuration, ("outcome", "timeout")).Single().Value;
        Assert.IsTrue(duration is >= 1.9 and < 10, $"a timed-out launch lasts the InitializationTimeout (2 s), not the summary after it: {duration} s");
        Assert.AreEqual(1, gateway.Metrics.Count(Deleted, ("reason", "timeout"), ("k8s.namespace.name", Namespace)));
        Assert.AreEqual(0, gateway.Metrics.Observe(ReadyPods)[Namespace]);
    }

    [TestMethod]
    public async Task CleanUp_LaunchedPodWithoutSessions_DeletedAfterIdleTimeoutAndCountedAsIdle()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await StartAsync(
            o =>
            {
                o.LaunchEngines = false;
                o.EngineIdleTimeout = TimeSpan.FromMinutes(30);
                o.CleanupInterval = TimeSpan.FromDays(1);
                o.ResyncInterval = TimeSpan.FromDays(30);
            },
            services => services.AddSingleton<TimeProvider>(time),
            gateway: g =>
            {
                g.Sessions.IdleTimeout = TimeSpan.Zero;
                g.Health.ProbeInterval = TimeSpan.Zero;
            });
        var engine = await gateway.StartEngineAsync("idle-engine");
        var managed = EnginePod("alice-engine", "alice", engine.Address.Port);
        managed.Metadata.Labels["app.kubernetes.io/managed-by"] = "spark-connect-multiplexer";
        gateway.Api.AddPod(managed);
        gateway.Api.SetRunning(Namespace, "alice-engine", ready: true);
        gateway.Api.AddPod(EnginePod("bob-engine", "bob", engine.Address.Port));
        gateway.Api.SetRunning(Namespace, "bob-engine", ready: true);
        Assert.IsTrue(await EventuallyAsync(() => gateway.Cache.Pods(Namespace).Count(EnginePods.IsServing) == 2, Wait));
        Assert.AreEqual(2, gateway.Metrics.Observe(ReadyPods)[Namespace]);
        var sessionId = GatewayHost.NewSessionId();
        await gateway.Client.ConfigAsync(GetAll(sessionId), Alice, cancellationToken: TestContext.CancellationToken);
        var engineId = EnginePods.EngineIdOf(gateway.Cache.Get(Namespace, "alice-engine")!);
        var store = gateway.Host.Services.GetRequiredService<ISessionStore>();

        // With a session, a launched pod stays however long it is quiet.
        time.Advance(TimeSpan.FromMinutes(45));
        await gateway.Engines.CleanUpAsync(TestContext.CancellationToken);
        Assert.IsNotNull(gateway.Api.Pod(Namespace, "alice-engine"));

        // Without one, it stays until EngineIdleTimeout has passed since it was last used.
        Assert.IsNotNull(await store.RemoveAsync(sessionId, TestContext.CancellationToken));
        time.Advance(TimeSpan.FromMinutes(29));
        await gateway.Engines.CleanUpAsync(TestContext.CancellationToken);
        Assert.IsNotNull(gateway.Api.Pod(Namespace, "alice-engine"));
        Assert.IsEmpty(gateway.Metrics.Of(Deleted));

        time.Advance(TimeSpan.FromMinutes(2));
        await gateway.Engines.CleanUpAsync(TestContext.CancellationToken);
        Assert.IsNull(gateway.Api.Pod(Namespace, "alice-engine"), "the idle launched pod is deleted");
        Assert.IsTrue(gateway.Registry.IsLostFor(engineId, DateTimeOffset.MinValue, out _));
        Assert.IsNotNull(gateway.Api.Pod(Namespace, "bob-engine"), "a pod the gateway did not launch is never deleted");
        Assert.AreEqual(1, gateway.Metrics.Count(Deleted, ("reason", "idle"), ("k8s.namespace.name", Namespace)));
        Assert.AreEqual(1, gateway.Metrics.Count(Deleted));
        Assert.IsTrue(await EventuallyAsync(() => gateway.Metrics.Observe(ReadyPods)[Namespace] == 1, Wait), "the deleted pod leaves the Ready gauge");
    }

    [TestMethod]
    [DataRow(TerminatedPodPolicy.Delete)]
    [DataRow(TerminatedPodPolicy.Keep)]
    public async Task CleanUp_TerminatedLaunchedPod_FollowsPolicyAndCountsDeletion(TerminatedPodPolicy policy)
    {
        await using var gateway = await StartAsync(o =>
        {
            o.LaunchEngines = false;
            o.TerminatedPods = policy;
        });
        var failed = EnginePod("failed-engine", "alice", 15002);
        failed.Metadata.Labels["app.kubernetes.io/managed-by"] = "spark-connect-multiplexer";
        gateway.Api.AddPod(failed);
        gateway.Api.Update(Namespace, "failed-engine", p => p.Status.Phase = "Failed");
        var foreign = EnginePod("foreign-engine", "bob", 15002);
        gateway.Api.AddPod(foreign);
        gateway.Api.Update(Namespace, "foreign-engine", p => p.Status.Phase = "Succeeded");
        Assert.IsTrue(await EventuallyAsync(() => gateway.Cache.Pods(Namespace).Count(EnginePods.IsTerminated) == 2, Wait));

        await gateway.Engines.CleanUpAsync(TestContext.CancellationToken);

        Assert.AreEqual(policy == TerminatedPodPolicy.Keep, gateway.Api.Pod(Namespace, "failed-engine") is not null);
        Assert.IsNotNull(gateway.Api.Pod(Namespace, "foreign-engine"), "a pod the gateway did not launch is never deleted");
        Assert.AreEqual(policy == TerminatedPodPolicy.Delete ? 1 : 0, gateway.Metrics.Count(Deleted, ("reason", "terminated")));
        Assert.AreEqual(gateway.Metrics.Count(Deleted, ("reason", "terminated")), gateway.Metrics.Count(Deleted));
    }
}
