using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace SparkConnect.Multiplexer.Redis.Sessions;

/// <summary>
/// Reports the gateway unhealthy while its Redis session store cannot be reached: without the store no call can be
/// routed, so the gRPC health service (and with it a load balancer or a Kubernetes probe) should say NOT_SERVING.
/// </summary>
internal sealed class RedisSessionStoreHealthCheck(ISessionStore store) : IHealthCheck
{
    public const string Name = "redis_session_store";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (store is not RedisSessionStore redis)
        {
            return HealthCheckResult.Healthy("The Redis session store was replaced by " + store.GetType().Name + ".");
        }

        try
        {
            var roundTrip = await redis.PingAsync(cancellationToken);
            return HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"Redis answered in {roundTrip.TotalMilliseconds:F1} ms."));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("The Redis session store cannot be reached: " + e.Message, e);
        }
    }
}
