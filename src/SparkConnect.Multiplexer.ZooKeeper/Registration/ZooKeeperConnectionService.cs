using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.ZooKeeper.Client;
using SparkConnect.Multiplexer.ZooKeeper.Discovery;

namespace SparkConnect.Multiplexer.ZooKeeper.Registration;

/// <summary>
/// Connects to ZooKeeper at start-up (a missing native library or an unreachable ensemble stops the host with a
/// message that says the fix) and checks that the ZooKeeper locator is the one in use.
/// </summary>
internal sealed class ZooKeeperConnectionService(ZooKeeperClient client, IOptions<ZooKeeperOptions> options, IServiceProvider services) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (services.GetService<ZooKeeperEnginesMarker>() is not null && services.GetRequiredService<IEngineLocator>() is not ZooKeeperEngineLocator)
        {
            throw new InvalidOperationException(
                "AddZooKeeperEngines() was called, but another engine locator replaced it: call AddZooKeeperEngines() after AddProcessEngines() (it then launches through the process launcher, coordinated by ZooKeeper), and do not call AddEngineLocator<T>() after it.");
        }

        await client.StartAsync(options.Value.ConnectionTimeout, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Registered by <c>AddZooKeeperEngines()</c>.</summary>
internal sealed class ZooKeeperEnginesMarker;
