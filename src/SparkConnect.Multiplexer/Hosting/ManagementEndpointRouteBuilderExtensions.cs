using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using SparkConnect.Multiplexer.Management;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Serves the gateway's management endpoint: health, readiness, metrics, the admin API and the dashboard.</summary>
public static class ManagementEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps, on the routes of <paramref name="endpoints"/>: <c>/healthz</c> (the process is alive), <c>/readyz</c>
    /// (ready for calls: not shutting down, configuration valid, session store reachable; every health check, as the
    /// gRPC health service counts them), <c>/metrics</c> (the
    /// gateway's instruments in Prometheus text format), the admin API under <c>/api/v1/admin</c> with its OpenAPI
    /// document at <c>/api/v1/admin/openapi/spark-connect-admin.json</c>, and the dashboard at <c>/</c>. Serve them
    /// on a port of their own (HTTP/1.1 is fine) with <c>RequireHost("*:port")</c> on the returned builder, and keep
    /// that port off the public network: health and metrics answer without authentication.
    /// </summary>
    /// <param name="endpoints">The application's routes.</param>
    /// <returns>A builder for conventions on every management endpoint (for example <c>RequireHost</c>).</returns>
    /// <exception cref="InvalidOperationException">The services were not added with <c>AddManagement()</c>.</exception>
    public static IEndpointConventionBuilder MapSparkConnectGatewayManagement(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<AdminAccess>() is null)
        {
            throw new InvalidOperationException("Call services.AddSparkConnectGateway().AddManagement() before app.MapSparkConnectGatewayManagement().");
        }

        var group = endpoints.MapGroup("");
        group.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = static _ => false }).ExcludeFromDescription();
        group.MapHealthChecks("/readyz", new HealthCheckOptions
        {
            // Every check, as the gRPC health service counts them: the gateway's own and any the host or a package
            // adds (the Redis session store's, for one).
            Predicate = static _ => true,
            ResponseWriter = WriteReadinessAsync,
        }).ExcludeFromDescription();
        group.MapPrometheusScrapingEndpoint("/metrics").ExcludeFromDescription();
        group.MapOpenApi(AdminApi.Prefix + "/openapi/{documentName}.json");
        AdminApi.Map(group);
        Dashboard.Map(group);
        return group;
    }

    /// <summary>The readiness answer: the overall status, then each check's status and why, as plain text.</summary>
    private static Task WriteReadinessAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        var lines = new List<string> { report.Status.ToString() };
        lines.AddRange(report.Entries.Select(e => $"{e.Key}: {e.Value.Status}{(e.Value.Description is { } why ? " - " + why : "")}"));
        return context.Response.WriteAsync(string.Join('\n', lines) + "\n", context.RequestAborted);
    }
}
