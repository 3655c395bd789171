using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.ZooKeeper.Client;

namespace SparkConnect.Multiplexer.ZooKeeper.Health;

/// <summary>
/// Reports the gateway's connection to ZooKeeper: degraded as soon as it is lost (sessions on known engines still
/// work), unhealthy once it has been lost for longer than <see cref="ZooKeeperOptions.ConnectionTimeout"/> (no new
/// engine can be found or launched, and this gateway's registration is gone or going), so a load balancer or a
/// Kubernetes probe sends new clients to a replica that still has ZooKeeper.
/// </summary>
internal sealed class ZooKeeperHealthCheck(ZooKeeperClient client, IOptionsMonitor<ZooKeeperOptions> options) : IHealthCheck
{
    public const string Name = "zookeeper";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (client.DisconnectedFor is not { } lost)
        {
            return Task.FromResult(HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"Connected to ZooKeeper {client.ConnectionString} (session 0x{client.SessionId:x}).")));
        }

        var settings = options.CurrentValue;
        var description = string.Create(
            CultureInfo.InvariantCulture,
            $"No connection to ZooKeeper {client.ConnectionString} for {lost.TotalSeconds:0.#} s: sessions on engines already known still work; new engines can be neither found nor launched until it is back (check the ensemble and {ZooKeeperOptions.SectionName}:ConnectionString).");
        return Task.FromResult(lost > settings.ConnectionTimeout ? HealthCheckResult.Unhealthy(description) : HealthCheckResult.Degraded(description));
    }
}
