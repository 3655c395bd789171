using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.ZooKeeper.Client;
using SparkConnect.Multiplexer.ZooKeeper.Discovery;

namespace SparkConnect.Multiplexer.ZooKeeper.Registration;

/// <summary>
/// Connects to ZooKeeper at start-up (a missing native library or an unreachable ensemble stops the host with a
/// message that says the fix) and checks that the ZooKeeper locator is the one in use.
/// </summary>
internal sealed class ZooKeeperConnectionService(ZooKeeperClient client, IOptions<ZooKeeperOptions> options, IServiceProvider services, ILogger<ZooKeeperConnectionService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        CheckDeployment();
        await client.StartAsync(options.Value.ConnectionTimeout, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Refuses combinations that work on one replica and fail on several, each with its fix.</summary>
    private void CheckDeployment()
    {
        if (services.GetService<ZooKeeperEnginesMarker>() is not null && services.GetRequiredService<IEngineLocator>() is not ZooKeeperEngineLocator)
        {
            throw new InvalidOperationException(
                "AddZooKeeperEngines() was called, but another engine locator replaced it: call AddZooKeeperEngines() after AddProcessEngines() (it then launches through the process launcher, coordinated by ZooKeeper), and do not call AddEngineLocator<T>() after it.");
        }

        if (services.GetService<ZooKeeperEnginesMarker>() is not null && services.GetService<IEngineLauncher>() is { SharingProblem: { } problem })
        {
            throw new InvalidOperationException(problem);
        }

        if (services.GetService<ZooKeeperEnginesMarker>() is not null && options.Value.LaunchEngines
            && services.GetService<IEngineLauncher>() is { } launcher
            && string.IsNullOrEmpty(options.Value.LaunchedEngineHost) && IsLoopback(launcher.EngineHost))
        {
            // Right for one machine (and the tests), wrong as soon as a replica on another host reads the node.
            ZooKeeperLog.LaunchedEnginesOnLoopback(logger, launcher.EngineHost, client.ConnectionString);
        }
    }

    private static bool IsLoopback(string host)
        => string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
}

/// <summary>Registered by <c>AddZooKeeperEngines()</c>.</summary>
internal sealed class ZooKeeperEnginesMarker;
