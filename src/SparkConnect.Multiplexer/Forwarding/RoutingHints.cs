using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;

namespace SparkConnect.Multiplexer.Forwarding;

/// <summary>
/// The call's custom metadata, which is how an <c>sc://</c> connection string's extra <c>k=v</c> pairs arrive:
/// protocol, credential and tracing headers are left out.
/// </summary>
internal static class RoutingHints
{
    private static readonly FrozenSet<string> Reserved = FrozenSet.ToFrozenSet(
    [
        "host", "content-type", "content-length", "te", "user-agent", "accept-encoding", "authorization", "authentication",
        "traceparent", "tracestate", "baggage", "request-id", "correlation-context", "connection", "keep-alive",
    ], StringComparer.OrdinalIgnoreCase);

    public static IReadOnlyDictionary<string, string> From(IHeaderDictionary headers)
    {
        var hints = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in headers)
        {
            if (name.StartsWith(':') || name.StartsWith("grpc-", StringComparison.OrdinalIgnoreCase)
                || name.EndsWith("-bin", StringComparison.OrdinalIgnoreCase) || Reserved.Contains(name))
            {
                continue;
            }

            hints[name] = value.ToString();
        }

        return hints;
    }
}
