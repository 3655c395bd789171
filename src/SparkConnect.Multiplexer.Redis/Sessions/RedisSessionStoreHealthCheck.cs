using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace SparkConnect.Multiplexer.Redis.Sessions;

/// <summary>
/// Reports the gateway unhealthy while its Redis session store cannot be reached: without the store no call can be
/// routed, so the gRPC health service (and with it a load balancer or a Kubernetes probe) should say NOT_SERVING.
/// While Redis is known to be out of reach it answers at once (a background probe watches Redis); otherwise one
/// round trip, which also checks that Redis still holds the gateway's state (its epoch).
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

        if (redis.Connection.CurrentOutage is { } outage)
        {
            return Unreachable(outage);
        }

        try
        {
            var start = Stopwatch.GetTimestamp();
            await redis.Connection.CheckEpochAsync(cancellationToken);
            return HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"Redis answered in {Stopwatch.GetElapsedTime(start).TotalMilliseconds:F1} ms."));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return redis.Connection.CurrentOutage is { } began ? Unreachable(began) : HealthCheckResult.Unhealthy("The Redis session store failed a health probe; see the gateway's log.");
        }
    }

    private static HealthCheckResult Unreachable(RedisStoreConnection.Outage outage)
        => HealthCheckResult.Unhealthy(string.Create(CultureInfo.InvariantCulture, $"The Redis session store has been out of reach since {outage.Since:u} ({outage.Reason})."));
}
