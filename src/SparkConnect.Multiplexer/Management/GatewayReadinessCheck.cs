using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Configuration;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.Hosting;

namespace SparkConnect.Multiplexer.Management;

/// <summary>
/// Whether this gateway instance should get new calls: not shutting down, its configuration valid (the last reload
/// was not refused), its session store reachable and — with the built-in static engines, which every user shares —
/// not every engine failing its health probes. <c>/readyz</c> and the gRPC health service both report it; either
/// turns not ready (503, NOT_SERVING) the moment shutdown starts, so a load balancer drains the instance.
/// </summary>
/// <remarks>
/// Engines a launching locator starts per user are not counted: one user's broken engine must not take the gateway
/// out of rotation for everybody.
/// </remarks>
internal sealed class GatewayReadinessCheck(
    IOptionsMonitor<SparkConnectGatewayOptions> options,
    GatewayShutdown shutdown,
    ISessionStore store,
    EngineEndpointRegistry registry,
    EngineHealthMonitor health,
    GatewayRegistrations registrations) : IHealthCheck
{
    public const string Name = "spark_connect_gateway";
    /// <summary>The tag of the gateway's readiness check, for hosts that filter their own health endpoints by tag.</summary>
    public const string ReadyTag = "ready";

    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(5);

    // A session id no client can have (not a UUID): looking it up only proves the store answers.
    private const string ProbeSessionId = "readiness-probe";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (shutdown.IsStopping)
        {
            return HealthCheckResult.Unhealthy("The gateway is shutting down.");
        }

        if (options is LastGoodOptionsMonitor<SparkConnectGatewayOptions> { Rejected.Count: > 0 } monitor)
        {
            var problems = monitor.Rejected.Values.Sum(p => p.Count);
            return HealthCheckResult.Unhealthy(
                $"The last reload of {SparkConnectGatewayOptions.SectionName} was refused with {problems} problem(s), listed in the log; the previous configuration is in force until they are fixed.");
        }

        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(StoreTimeout);
            try
            {
                await store.GetAsync(ProbeSessionId, timeout.Token);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                return HealthCheckResult.Unhealthy($"The session store {store.GetType().Name} does not answer: {(e is OperationCanceledException ? $"no answer within {StoreTimeout.TotalSeconds:0} s" : e.Message)}");
            }
        }

        if (!registrations.HasCustomEngineLocator)
        {
            var engines = registry.Endpoints.ToArray();
            var failing = engines.Count(e => health.TryGetLastProbe(e.Id, out var probe) && !probe.Healthy);
            if (engines.Length > 0 && failing == engines.Length)
            {
                return HealthCheckResult.Unhealthy($"Every engine ({engines.Length}) fails its health probes.");
            }
        }

        return HealthCheckResult.Healthy();
    }
}
