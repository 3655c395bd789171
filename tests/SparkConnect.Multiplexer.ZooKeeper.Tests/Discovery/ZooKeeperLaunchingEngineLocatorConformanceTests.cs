using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Testing;
using SparkConnect.Multiplexer.TestKit;
using SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Discovery;

/// <summary>
/// The shared <see cref="IEngineLocator"/> conformance suite against the ZooKeeper locator with the process launcher
/// (<c>AddProcessEngines()</c> then <c>AddZooKeeperEngines()</c>), on a real ZooKeeper server of each test's own:
/// engines are test engine host processes launched under the ZooKeeper lock and registered in their engine space. The
/// suite's host stop stops them; whatever is left under the working directory is killed after each test.
/// </summary>
[TestClass]
public sealed class ZooKeeperLaunchingEngineLocatorConformanceTests : EngineLocatorConformanceTests
{
    private readonly string _workRoot = Path.Combine(Path.GetTempPath(), "zk-conformance-" + Guid.NewGuid().ToString("N")[..12]);
    private ZooKeeperServer? _server;

    private ZooKeeperServer Server => _server ?? throw new InvalidOperationException("ZooKeeper starts before each test.");

    [TestInitialize]
    public async Task StartZooKeeperAsync() => _server = await ZooKeeperServer.StartAsync();

    protected override async Task AfterGatewaysStoppedAsync()
    {
        EngineProcesses.KillAllUnder(_workRoot);
        if (Directory.Exists(_workRoot))
        {
            Directory.Delete(_workRoot, recursive: true);
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    protected override void ConfigureLocator(ISparkConnectGatewayBuilder gateway)
    {
        gateway.AddProcessEngines(o => ZooKeeperGateway.UseTestEngine(o, _workRoot));
        AddZooKeeper(gateway);
    }

    // An engine command that does not exist: every launch fails.
    protected override bool ConfigureFailingLocator(ISparkConnectGatewayBuilder gateway)
    {
        gateway.AddProcessEngines(o =>
        {
            ZooKeeperGateway.UseTestEngine(o, _workRoot);
            o.Command = Path.Combine(_workRoot, "no-such-engine");
        });
        AddZooKeeper(gateway);
        return true;
    }

    private void AddZooKeeper(ISparkConnectGatewayBuilder gateway) => gateway.AddZooKeeperEngines(o =>
    {
        ZooKeeperGateway.UseZooKeeper(o, Server);

        // The suite's gateway has no listener to register; registration is not the locator's part.
        o.RegisterGateway = false;
    });
}
