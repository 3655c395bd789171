using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;
using SparkConnect.Multiplexer.Internal;
using SparkConnect.Multiplexer.Management;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the services of the gateway's management endpoint.</summary>
public static class ManagementGatewayBuilderExtensions
{
    /// <summary>
    /// Adds what <c>app.MapSparkConnectGatewayManagement()</c> serves: OpenTelemetry metrics for the gateway's meters
    /// (<c>SparkConnect.Multiplexer</c> and its integrations') with the Prometheus exporter, the admin API's access
    /// check and its OpenAPI document. Administrators are named in <c>SparkConnectGateway:Admin</c>.
    /// </summary>
    /// <param name="builder">The gateway builder.</param>
    /// <returns>The builder.</returns>
    public static ISparkConnectGatewayBuilder AddManagement(this ISparkConnectGatewayBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(AdminAccess)))
        {
            return builder;
        }

        services.TryAddSingleton<AdminAccess>();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(GatewayMetrics.MeterName, GatewayMetrics.MeterName + ".*")
            // Scrapes are rare and the gateway's instruments few: no cached answer that a second scrape would repeat.
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        services.AddOpenApi(AdminApi.DocumentName, o => o.ShouldInclude = static d => d.GroupName == AdminApi.DocumentName);
        return builder;
    }
}
