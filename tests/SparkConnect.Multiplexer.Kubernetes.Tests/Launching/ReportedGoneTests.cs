using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Kubernetes.Internal;
using SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;
using static SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure.KubernetesGateway;
using static SparkConnect.Multiplexer.Testing.Polling;

namespace SparkConnect.Multiplexer.Kubernetes.Tests.Launching;

/// <summary>
/// Engines reported gone through <see cref="IEngineLifecycle"/> (health probes, say) while Kubernetes still calls their
/// pod Running and Ready, against the stand-in API server (not a Kubernetes). The locator is asked directly; no engine
/// runs behind the pods.
/// </summary>
[TestClass]
public sealed class ReportedGoneTests
{
    private const string Deleted = "spark_connect.kubernetes.pods.deleted";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task ReportLost_LaunchedPodStillReady_DeletedCountedAsLostAndReplacedByANewPod()
    {
        await using var gateway = await StartAsync(seed: api => api.StartsCreatedPods = true);
        var locator = gateway.Host.Services.GetRequiredService<IEngineLocator>();
        var lost = await locator.LocateAsync(Request("alice", mayLaunch: true), TestContext.CancellationToken);
        var lostPod = gateway.Api.Pods(Namespace).Single().Metadata.Name;

        gateway.Host.Services.GetRequiredService<IEngineLifecycle>().ReportLost(lost.Id, "3 health probes failed");

        Assert.IsTrue(await EventuallyAsync(() => gateway.Api.Pod(Namespace, lostPod) is null, Wait), "the launched pod whose engine was reported lost is deleted");
        Assert.AreEqual(1, gateway.Metrics.Count(Deleted, ("reason", "lost"), ("k8s.namespace.name", Namespace)));
        var replacement = await locator.LocateAsync(Request("alice", mayLaunch: true), TestContext.CancellationToken);
        Assert.AreNotEqual(lost.Id, replacement.Id);
        Assert.AreEqual(1, gateway.Metrics.Count(Deleted), "one deletion, however many reports");
    }

    [TestMethod]
    public async Task ReportLost_ForeignPodStillReady_NotRoutedAndKeptUntilItServesAgain()
    {
        await using var gateway = await StartAsync(o => o.LaunchEngines = false);
        gateway.Api.AddPod(EnginePod("bob-engine", "bob", 15002));
        gateway.Api.SetRunning(Namespace, "bob-engine", ready: true);
        var locator = gateway.Host.Services.GetRequiredService<IEngineLocator>();
        Assert.IsTrue(await EventuallyAsync(() => gateway.Cache.Pods(Namespace).Any(EnginePods.IsServing), Wait));
        var engine = await locator.LocateAsync(Request("bob", mayLaunch: false), TestContext.CancellationToken);

        gateway.Host.Services.GetRequiredService<IEngineLifecycle>().ReportLost(engine.Id, "3 health probes failed");

        await Assert.ThrowsExactlyAsync<EngineNotRunningException>(async () => await locator.LocateAsync(Request("bob", mayLaunch: false), TestContext.CancellationToken));
        Assert.IsNotNull(gateway.Api.Pod(Namespace, "bob-engine"), "a pod the gateway did not launch is never deleted");

        // Its readiness probe catches up (not Ready), then the engine comes back: the same pod serves again.
        gateway.Api.SetRunning(Namespace, "bob-engine", ready: false);
        Assert.IsTrue(await EventuallyAsync(() => !gateway.Cache.Pods(Namespace).Any(EnginePods.IsServing), Wait));
        gateway.Api.SetRunning(Namespace, "bob-engine", ready: true);
        Assert.IsTrue(await EventuallyAsync(() => gateway.Cache.Pods(Namespace).Any(EnginePods.IsServing), Wait));
        Assert.AreEqual(engine.Id, (await locator.LocateAsync(Request("bob", mayLaunch: false), TestContext.CancellationToken)).Id, "the pod that came back is routed to again");
        Assert.AreEqual(0, gateway.Metrics.Count(Deleted));
    }

    private static EngineRequest Request(string user, bool mayLaunch)
        => new(new GatewayPrincipal(user), new EngineKey { ShareLevel = ShareLevel.User, Owner = user }, Guid.NewGuid().ToString(), new Dictionary<string, string>(), null)
        {
            MayLaunch = mayLaunch,
        };
}
