using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;
using SparkConnect.Multiplexer.TestKit;

namespace SparkConnect.Multiplexer.Kubernetes.Tests.Launching;

/// <summary>
/// The shared <see cref="IEngineLocator"/> conformance suite against the Kubernetes locator (<c>AddKubernetesEngines()</c>),
/// pointed at a stand-in API server (not a Kubernetes, see <see cref="StandInKubernetesApiServer"/>) that starts every
/// pod the locator creates at once. The locator never contacts the engine a pod stands for, so no engine runs behind
/// the pods; each test has a stand-in of its own, stopped after the suite's gateway.
/// </summary>
[TestClass]
public sealed class KubernetesEngineLocatorConformanceTests : EngineLocatorConformanceTests
{
    private StandInKubernetesApiServer? _api;

    [TestInitialize]
    public async Task StartApiServerAsync()
        => _api = await StandInKubernetesApiServer.StartAsync();

    protected override async Task AfterGatewaysStoppedAsync()
    {
        if (_api is not null)
        {
            await _api.DisposeAsync();
        }
    }

    protected override void ConfigureLocator(ISparkConnectGatewayBuilder gateway) => gateway.AddKubernetesEngines(UseStandIn);

    // A gateway that launches no pods: the conformance users (fresh names) have none, so nothing can serve them.
    protected override bool ConfigureFailingLocator(ISparkConnectGatewayBuilder gateway)
    {
        gateway.AddKubernetesEngines(o =>
        {
            UseStandIn(o);
            o.LaunchEngines = false;
        });
        return true;
    }

    private void UseStandIn(KubernetesEngineOptions options)
    {
        var api = _api ?? throw new InvalidOperationException("The stand-in API server starts before each test.");
        api.StartsCreatedPods = true;
        options.Server = api.Address;
        options.Namespaces.Add(KubernetesGateway.Namespace);
        options.PodTemplate.Image = "apache/spark:4.0.1";
        options.WatchRetryDelay = TimeSpan.FromMilliseconds(100);
        options.InitializationTimeout = TimeSpan.FromSeconds(30);
    }
}
