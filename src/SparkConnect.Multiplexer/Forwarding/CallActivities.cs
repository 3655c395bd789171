using System.Diagnostics;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using SparkConnect.Multiplexer.Internal;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Forwarding;

/// <summary>A call's spans, named and tagged by OpenTelemetry's RPC semantic conventions; none without a listener.</summary>
internal static class CallActivities
{
    /// <summary>
    /// The call's server span (<c>spark.connect.SparkConnectService/Method</c>; <c>_OTHER</c> for a method Spark has
    /// not released), the child of the ASP.NET Core request span or, with no listener there, of the client's
    /// <c>traceparent</c>.
    /// </summary>
    public static Activity? StartServer(HttpContext context, string method)
    {
        var source = GatewayActivitySource.Instance;
        if (!source.HasListeners())
        {
            return null;
        }

        var name = SparkConnectMethods.ServiceName + "/" + method;
        var activity = Activity.Current is null
            && context.Request.Headers.TryGetValue("traceparent", out var traceparent)
            && ActivityContext.TryParse(traceparent.ToString(), context.Request.Headers["tracestate"].ToString(), isRemote: true, out var parent)
                ? source.StartActivity(name, ActivityKind.Server, parent)
                : source.StartActivity(name, ActivityKind.Server);
        return activity?.SetTag("rpc.system", "grpc")
            .SetTag("rpc.service", SparkConnectMethods.ServiceName)
            .SetTag("rpc.method", method);
    }

    /// <summary>The engine call's client span, a child of the server span: the same name, and the engine as <c>server.address</c>/<c>server.port</c>.</summary>
    public static Activity? StartClient(SparkConnectMethod method, RoutedSession route)
    {
        var source = GatewayActivitySource.Instance;
        if (!source.HasListeners())
        {
            return null;
        }

        var activity = source.StartActivity(SparkConnectMethods.ServiceName + "/" + method.TelemetryName, ActivityKind.Client);
        return activity?.SetTag("rpc.system", "grpc")
            .SetTag("rpc.service", SparkConnectMethods.ServiceName)
            .SetTag("rpc.method", method.TelemetryName)
            .SetTag("server.address", route.Engine.Address.Host)
            .SetTag("server.port", route.Engine.Address.Port)
            .SetTag("spark_connect.session_id", route.Session.SessionId)
            .SetTag("spark_connect.engine.id", route.Engine.Id);
    }

    /// <summary>
    /// The gRPC status on a span: <c>rpc.grpc.status_code</c>, and for a failure (per the conventions, every status
    /// but OK for a client span; for a server span the ones that are the server's fault) an error status and
    /// <c>error.type</c> = the status name.
    /// </summary>
    public static void SetStatus(Activity activity, StatusCode status)
    {
        activity.SetTag("rpc.grpc.status_code", (int)status);
        var isError = activity.Kind == ActivityKind.Client
            ? status != StatusCode.OK
            : status is StatusCode.Unknown or StatusCode.DeadlineExceeded or StatusCode.Unimplemented or StatusCode.Internal or StatusCode.Unavailable or StatusCode.DataLoss;
        if (isError)
        {
            activity.SetTag("error.type", GrpcStatusResponder.Name(status));
            activity.SetStatus(ActivityStatusCode.Error);
        }
    }
}
