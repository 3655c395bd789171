using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Engines;
using k8s.Models;
using SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;
using static SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure.KubernetesGateway;

using SparkConnect.Multiplexer.Testing;
using static SparkConnect.Multiplexer.Testing.Polling;

namespace SparkConnect.Multiplexer.Kubernetes.Tests.Launching;

/// <summary>The launch caps and the redaction of launch failures, through a real gateway against the stand-in API server.</summary>
[TestClass]
public sealed class EnginePodCapacityTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public void Defaults_CapEnginesPerUserAndInTotal()
    {
        var options = new KubernetesEngineOptions();

        Assert.AreEqual(50, options.MaxEngines);
        Assert.AreEqual(5, options.MaxEnginesPerUser);
        Assert.AreEqual("spark-connect-multiplexer/launched-by", options.Labels.LaunchedBy);
    }

    [TestMethod]
    public async Task PerUserCap_Reached_ResourceExhaustedNamingTheOption_SlotFreedWhenThePodEnds()
    {
        await using var gateway = await StartAsync(o => o.MaxEnginesPerUser = 1);
        var first = gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync;
        Assert.IsTrue(await EventuallyAsync(() => gateway.Api.Pods(Namespace).Count == 1, Wait), "the first launch creates a pod");
        var pod = gateway.Api.Pods(Namespace).Single();
        Assert.AreEqual("alice", pod.Metadata.Labels["spark-connect-multiplexer/launched-by"]);

        // While it is still starting, another subdomain of alice's would be a second pod.
        var error = await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), With(Alice, "subdomain", "b"), cancellationToken: Cancel).ResponseAsync);

        Assert.AreEqual(StatusCode.ResourceExhausted, error.StatusCode, "never UNAVAILABLE: clients would retry it for ten minutes");
        StringAssert.Contains(error.Status.Detail, "SparkConnectGateway:Kubernetes:MaxEnginesPerUser");
        StringAssert.Contains(error.Status.Detail, "'alice'");
        Assert.HasCount(1, gateway.Api.Pods(Namespace), "nothing was created for the refused session");

        // Bob has a quota of his own.
        _ = gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Bob, cancellationToken: Cancel).ResponseAsync;
        Assert.IsTrue(await EventuallyAsync(() => gateway.Api.Pods(Namespace).Count == 2, Wait), "bob's launch creates a pod");

        // Alice's pod ends: her slot is free again.
        gateway.Api.Update(Namespace, pod.Metadata.Name, p => p.Status.Phase = "Failed");
        await Assert.ThrowsExactlyAsync<RpcException>(() => first);
        _ = gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), With(Alice, "subdomain", "b"), cancellationToken: Cancel).ResponseAsync;
        Assert.IsTrue(
            await EventuallyAsync(() => gateway.Api.Pods(Namespace).Any(p => p.Metadata.Labels["spark-connect-multiplexer/subdomain"] == "b"), Wait),
            "alice's next launch creates a pod");
    }

    [TestMethod]
    public async Task TotalCap_Reached_ResourceExhaustedNamingTheOption_PodsOfOtherReplicasCount()
    {
        await using var gateway = await StartAsync(o =>
        {
            o.MaxEngines = 2;
            o.MaxEnginesPerUser = 0;
        });

        // One pod launched by another gateway replica (managed-by label), still starting, in the other namespace.
        var other = EnginePod("replica-engine", "carol", 15002, OtherNamespace);
        other.Metadata.Labels["app.kubernetes.io/managed-by"] = "spark-connect-multiplexer";
        gateway.Api.AddPod(other);
        Assert.IsTrue(await EventuallyAsync(() => gateway.Cache.Get(OtherNamespace, "replica-engine") is not null, Wait));
        _ = gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync;
        Assert.IsTrue(await EventuallyAsync(() => gateway.Api.Pods(Namespace).Count == 1, Wait));

        var error = await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Bob, cancellationToken: Cancel).ResponseAsync);

        Assert.AreEqual(StatusCode.ResourceExhausted, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "SparkConnectGateway:Kubernetes:MaxEngines");
        Assert.HasCount(1, gateway.Api.Pods(Namespace));

        // The other replica's pod ends: the slot is free.
        gateway.Api.Update(OtherNamespace, "replica-engine", p => p.Status.Phase = "Succeeded");
        Assert.IsTrue(await EventuallyAsync(() => gateway.Cache.Get(OtherNamespace, "replica-engine")?.Status?.Phase == "Succeeded", Wait));
        _ = gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Bob, cancellationToken: Cancel).ResponseAsync;
        Assert.IsTrue(await EventuallyAsync(() => gateway.Api.Pods(Namespace).Count == 2, Wait), "bob's launch creates a pod");
    }

    [TestMethod]
    public async Task PodEndsBeforeReady_WithSecretsInItsStatusAndEvents_ClientAndLogSeeThemMasked()
    {
        await using var gateway = await StartAsync();
        var call = gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync;
        Assert.IsTrue(await EventuallyAsync(() => gateway.Api.Pods(Namespace).Count == 1, Wait));
        var name = gateway.Api.Pods(Namespace).Single().Metadata.Name;
        gateway.Api.AddEvent(Namespace, name, "Warning", "BackOff", "driver said: spark.hadoop.fs.s3a.access.key=AKIAEXAMPLE password: hunter2");
        gateway.Api.Update(Namespace, name, pod =>
        {
            pod.Status.Phase = "Failed";
            pod.Status.Message = "Authorization: Bearer eyJabc.def.ghi";
            pod.Status.ContainerStatuses =
            [
                new V1ContainerStatus
                {
                    Name = "spark-kubernetes-driver",
                    Image = "apache/spark:4.0.1",
                    ImageID = "",
                    Ready = false,
                    RestartCount = 0,
                    State = new V1ContainerState
                    {
                        Terminated = new V1ContainerStateTerminated
                        {
                            ExitCode = 1,
                            Reason = "Error",
                            Message = "Exception: --conf spark.hadoop.fs.s3a.secret.key=s3cr3tValue {\"db.credential\": \"credValue7\"}",
                        },
                    },
                },
            ];
        });

        var error = await Assert.ThrowsExactlyAsync<RpcException>(async () => await call);

        Assert.AreEqual(StatusCode.Unavailable, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "ended before it was ready");
        StringAssert.Contains(error.Status.Detail, "spark.hadoop.fs.s3a.secret.key=***");
        var logged = string.Join(Environment.NewLine, gateway.Host.Logs.Entries.Select(e => e.Message));
        StringAssert.Contains(logged, "ended before it was ready");
        foreach (var secret in new[] { "AKIAEXAMPLE", "hunter2", "eyJabc", "s3cr3tValue", "credValue7" })
        {
            Assert.DoesNotContain(secret, error.Status.Detail, "the client's error message");
            Assert.DoesNotContain(secret, logged, "the gateway log");
        }
    }

    [TestMethod]
    public async Task PodDeletedBySomeoneElse_LeavesNoCacheBehind()
    {
        await using var gateway = await StartAsync(o =>
        {
            o.LaunchEngines = false;
            o.CleanupInterval = TimeSpan.FromDays(1);
        });
        var engine = await gateway.StartEngineAsync("short-lived");
        gateway.Api.AddPod(EnginePod("alice-engine", "alice", engine.Address.Port));
        gateway.Api.SetRunning(Namespace, "alice-engine", ready: true);
        Assert.IsTrue(await EventuallyAsync(() => gateway.Cache.Get(Namespace, "alice-engine")?.Status?.Phase == "Running", Wait));
        await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel);
        Assert.AreEqual(1, gateway.Engines.TrackedPodCount);
        var pool = gateway.Host.Services.GetRequiredService<EngineChannelPool>();
        Assert.AreEqual(1, pool.Count);

        gateway.Api.RemovePod(Namespace, "alice-engine");
        Assert.IsTrue(await EventuallyAsync(() => gateway.Cache.Get(Namespace, "alice-engine") is null, Wait));
        await gateway.Engines.CleanUpAsync(Cancel);

        Assert.AreEqual(0, gateway.Engines.TrackedPodCount);
        Assert.AreEqual(0, pool.Count, "nor its pooled HTTP/2 client");
    }
}
