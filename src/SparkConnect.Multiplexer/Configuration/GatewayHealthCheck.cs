using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Configuration;

/// <summary>
/// The gateway's own health check: healthy, or degraded while the last configuration reload was refused (the
/// previous configuration is still in force; the problems are in the log).
/// </summary>
internal sealed class GatewayHealthCheck(IOptionsMonitor<SparkConnectGatewayOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (options is LastGoodOptionsMonitor<SparkConnectGatewayOptions> { Rejected.Count: > 0 } monitor)
        {
            var problems = monitor.Rejected.Values.Sum(p => p.Count);
            return Task.FromResult(HealthCheckResult.Degraded(
                $"The last reload of {SparkConnectGatewayOptions.SectionName} was refused with {problems} problem(s), listed in the log; the previous configuration is in force until they are fixed."));
        }

        return Task.FromResult(HealthCheckResult.Healthy());
    }
}
