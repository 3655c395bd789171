using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Hosting;

[TestClass]
public sealed class StartupTests
{
    [TestMethod]
    public async Task Start_ZooKeeperUnreachable_FailsNamingTheConnectionString()
    {
        using var closed = new ClosedPort();
        var port = closed.Port;

        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => GatewayHost.StartAsync(
            static _ => { },
            gateway => gateway.AddZooKeeperEngines(o =>
            {
                o.ConnectionString = $"127.0.0.1:{port}";
                o.ConnectionTimeout = TimeSpan.FromSeconds(1);
            })));

        Assert.Contains("Could not connect to ZooKeeper at '127.0.0.1:" + port, error.Message);
    }

    [TestMethod]
    public async Task Start_ProcessEnginesAddedAfterZooKeeper_FailsSayingTheOrder()
    {
        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => GatewayHost.StartAsync(
            static _ => { },
            gateway => gateway
                .AddZooKeeperEngines(o => o.ConnectionString = "127.0.0.1:1")
                .AddProcessEngines(o =>
                {
                    o.Command = "/bin/true";
                    o.Arguments.Add("{port}");
                })));

        Assert.Contains("after AddProcessEngines()", error.Message);
    }

    [TestMethod]
    public async Task Start_InvalidOptions_FailsListingEveryProblem()
    {
        var error = await Assert.ThrowsExactlyAsync<OptionsValidationException>(() => GatewayHost.StartAsync(
            static _ => { },
            gateway => gateway.AddZooKeeperEngines(o =>
            {
                o.EngineType = "";
                o.EngineScheme = "tcp";
            })));

        Assert.HasCount(3, error.Failures, string.Join(Environment.NewLine, error.Failures));
    }

    [TestMethod]
    public async Task Start_LaunchedEnginesOnLoopbackWithoutAdvertisedHost_WarnsNamingTheSettings()
    {
        await using var server = await ZooKeeperServer.StartAsync();
        await using var loopback = await ZooKeeperGateway.StartAsync(server, launch: true);
        await using var advertised = await ZooKeeperGateway.StartAsync(server, o => o.LaunchedEngineHost = "gateway-1.example.org", launch: true);

        var warning = loopback.Host.Logs.Entries.SingleOrDefault(e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning && e.Message.Contains("loopback address", StringComparison.Ordinal));
        Assert.IsNotNull(warning.Message, "warned");
        StringAssert.Contains(warning.Message, "SparkConnectGateway:ProcessEngines:Host");
        StringAssert.Contains(warning.Message, "SparkConnectGateway:ZooKeeper:LaunchedEngineHost");
        Assert.IsFalse(advertised.Host.Logs.Entries.Any(e => e.Message.Contains("loopback address", StringComparison.Ordinal)), "no warning once the host is set");
    }
}
