using System.Net;
using System.Net.Sockets;
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
        var port = UnusedPort();

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

    private static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
