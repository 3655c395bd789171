using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;

namespace SparkConnect.Multiplexer.Diagnostics;

/// <summary>The gateway's instruments, on one <see cref="Meter"/> named after the package.</summary>
internal sealed class GatewayMetrics
{
    public const string MeterName = "SparkConnect.Multiplexer";

    private readonly Counter<long> _calls;
    private readonly Histogram<double> _callDuration;
    private readonly Histogram<double> _engineDuration;
    private readonly Counter<long> _bytes;
    private readonly UpDownCounter<long> _activeSessions;
    private readonly Counter<long> _rateLimited;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _calls = meter.CreateCounter<long>("spark_connect.gateway.calls", "{call}", "Spark Connect calls handled, by method and gRPC status.");
        _callDuration = meter.CreateHistogram<double>("spark_connect.gateway.call.duration", "s", "Time from a call's arrival to its end, by method and gRPC status.");
        _engineDuration = meter.CreateHistogram<double>("spark_connect.gateway.engine.duration", "s", "Time an engine took for a forwarded call, by method and engine.");
        _bytes = meter.CreateCounter<long>("spark_connect.gateway.forwarded.bytes", "By", "Bytes forwarded, by direction (request, response).");
        _rateLimited = meter.CreateCounter<long>("spark_connect.gateway.calls.rate_limited", "{call}", "Calls refused over a call rate, by limit (user, client_address).");
        _activeSessions = meter.CreateUpDownCounter<long>("spark_connect.gateway.sessions.active", "{session}", "Sessions bound to an engine by this gateway instance.");
    }

    public void CallEnded(string method, StatusCode status, long startTimestamp)
    {
        var tags = new TagList { { "rpc.method", method }, { "rpc.grpc.status_code", (int)status } };
        _calls.Add(1, tags);
        _callDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
    }

    public void EngineCallEnded(string method, string engineId, long startTimestamp)
        => _engineDuration.Record(
            Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds,
            new TagList { { "rpc.method", method }, { "spark_connect.engine.id", engineId } });

    public void Forwarded(long requestBytes, long responseBytes)
    {
        if (requestBytes > 0)
        {
            _bytes.Add(requestBytes, new KeyValuePair<string, object?>("direction", "request"));
        }

        if (responseBytes > 0)
        {
            _bytes.Add(responseBytes, new KeyValuePair<string, object?>("direction", "response"));
        }
    }

    /// <param name="limit"><c>user</c> or <c>client_address</c>: which rate refused the call (not who, to keep the tag's values few).</param>
    public void RateLimited(string limit) => _rateLimited.Add(1, new KeyValuePair<string, object?>("spark_connect.limit", limit));

    public void SessionOpened() => _activeSessions.Add(1);

    public void SessionClosed() => _activeSessions.Add(-1);
}
