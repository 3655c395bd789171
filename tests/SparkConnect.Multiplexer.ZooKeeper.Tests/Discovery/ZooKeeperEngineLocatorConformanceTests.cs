using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Testing;
using SparkConnect.Multiplexer.TestKit;
using SparkConnect.Multiplexer.ZooKeeper.Client;
using SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Discovery;

/// <summary>
/// The shared <see cref="IEngineLocator"/> conformance suite against the ZooKeeper locator without a launcher
/// (<c>AddZooKeeperEngines()</c> alone), on a real ZooKeeper server of each test's own: engines are found where Apache
/// Kyuubi registers them, so the suite's engines are nodes the test registers as an engine would (ephemeral, gone with
/// the test's ZooKeeper session). The locator never contacts the engine a node names, so no engine runs behind them.
/// </summary>
[TestClass]
public sealed class ZooKeeperEngineLocatorConformanceTests : EngineLocatorConformanceTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private ZooKeeperServer? _server;
    private ZooKeeperClient? _engines;
    private int _nextPort = 15003;

    protected override bool LaunchesEngines => false;

    protected override bool DiscoversEngines => true;

    private ZooKeeperServer Server => _server ?? throw new InvalidOperationException("ZooKeeper starts before each test.");

    [TestInitialize]
    public async Task StartZooKeeperAsync()
    {
        _server = await ZooKeeperServer.StartAsync();
        _engines = await ZooKeeperGateway.ConnectAsync(_server);
    }

    protected override async Task AfterGatewaysStoppedAsync()
    {
        if (_engines is not null)
        {
            await _engines.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    protected override void ConfigureLocator(ISparkConnectGatewayBuilder gateway) => gateway.AddZooKeeperEngines(o =>
    {
        ZooKeeperGateway.UseZooKeeper(o, Server);

        // The suite's gateway has no listener to register; registration is not the locator's part.
        o.RegisterGateway = false;
    });

    // No launcher, and no engine registered for the conformance users (fresh names): nothing can serve them.
    protected override bool ConfigureFailingLocator(ISparkConnectGatewayBuilder gateway)
    {
        ConfigureLocator(gateway);
        return true;
    }

    protected override async Task StartEngineAsync(EngineKey key, IServiceProvider gatewayServices, CancellationToken cancellationToken)
    {
        var port = Interlocked.Increment(ref _nextPort);
        var node = await ZooKeeperGateway.RegisterEngineAsync(_engines!, key.Owner, $"127.0.0.1:{port}", extra: $"sparkConnectPort={port}", subdomain: key.Subdomain);
        var engineId = ZooKeeperGateway.EngineIdOf(node);

        // The locator learns of the node through its ZooKeeper watch, a moment later.
        var locator = gatewayServices.GetRequiredService<IEngineLocator>();
        Assert.IsTrue(
            await Polling.EventuallyAsync(
                async () =>
                {
                    try
                    {
                        return (await locator.LocateAsync(CreateRequest(key, mayLaunch: false), cancellationToken)).Id == engineId;
                    }
                    catch (EngineNotRunningException)
                    {
                        return false;
                    }
                },
                Wait),
            $"the locator sees the engine registered at {node}");
    }
}
