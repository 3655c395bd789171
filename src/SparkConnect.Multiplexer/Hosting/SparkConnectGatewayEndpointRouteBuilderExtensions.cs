using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer;
using SparkConnect.Multiplexer.Forwarding;
using SparkConnect.Multiplexer.Protocol;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Serves the Spark Connect gateway.</summary>
public static class SparkConnectGatewayEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps every method under <c>/spark.connect.SparkConnectService/</c>, known today or added by a future Spark
    /// version, to the gateway, and (unless disabled) the standard gRPC health service. Spark Connect needs HTTP/2:
    /// configure Kestrel for <c>Http2</c> on a cleartext port, or <c>Http1AndHttp2</c> with TLS.
    /// </summary>
    /// <returns>A builder for conventions on the gateway endpoint (for example <c>RequireHost</c>).</returns>
    public static IEndpointConventionBuilder MapSparkConnectGateway(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);

        var handler = endpoints.ServiceProvider.GetService<CallPipeline>()
            ?? throw new InvalidOperationException("Call services.AddSparkConnectGateway() before app.MapSparkConnectGateway().");
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<SparkConnectGatewayOptions>>().Value;

        // Every path under the service reaches the handler, which decides the method from the raw path and answers
        // UNIMPLEMENTED for anything that is not a plain method name (rather than an HTTP 404 the client cannot read).
        endpoints.ServiceProvider.GetRequiredService<SparkConnect.Multiplexer.Configuration.GatewayRegistrations>().IsMapped = true;
        var gateway = endpoints.MapPost(SparkConnectMethods.ServicePath + "{**method}", handler.HandleAsync)
            .WithDisplayName("Spark Connect gateway");
        if (options.MapHealthService)
        {
            endpoints.MapGrpcHealthChecksService();
        }

        return gateway;
    }
}
