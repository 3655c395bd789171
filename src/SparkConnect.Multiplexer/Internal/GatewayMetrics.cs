using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Internal;

/// <summary>
/// The gateway's instruments, on one <see cref="Meter"/> named after the package. Tags follow OpenTelemetry's RPC
/// semantic conventions (<c>rpc.system</c>, <c>rpc.service</c>, <c>rpc.method</c> — <c>_OTHER</c> for methods Spark
/// has not released — and <c>rpc.grpc.status_code</c>); every other tag has a bounded set of values, listed in the
/// README, so no client can grow a time series per request.
/// </summary>
internal sealed class GatewayMetrics
{
    public const string MeterName = "SparkConnect.Multiplexer";

    private readonly Counter<long> _calls;
    private readonly Histogram<double> _callDuration;
    private readonly Histogram<double> _engineDuration;
    private readonly Counter<long> _bytes;
    private readonly UpDownCounter<long> _activeSessions;
    private readonly Counter<long> _sessionsOpened;
    private readonly Counter<long> _sessionsClosed;
    private readonly Counter<long> _authenticationFailures;
    private readonly Counter<long> _refusals;
    private readonly Counter<long> _enginesLost;
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
        _sessionsOpened = meter.CreateCounter<long>("spark_connect.gateway.sessions.opened", "{session}", "Sessions opened (bound to an engine) by this gateway instance.");
        _sessionsClosed = meter.CreateCounter<long>("spark_connect.gateway.sessions.closed", "{session}", "Sessions this gateway instance forgot, by reason (released, expired, engine_lost, clone_failed, admin).");
        _authenticationFailures = meter.CreateCounter<long>("spark_connect.gateway.authentication.failures", "{failure}", "Calls (and admin requests) whose authentication failed, by reason (missing_credential, invalid_credential, unavailable).");
        _refusals = meter.CreateCounter<long>("spark_connect.gateway.refusals", "{call}", "Calls refused by a gateway rule, by reason (throttle, deny_list, limit, authorization, ownership) and method.");
        _enginesLost = meter.CreateCounter<long>("spark_connect.gateway.engines.lost", "{engine}", "Engines found gone (failed health probes, exited, stopped, removed from discovery) while sessions could be bound to them.");
    }

    public void CallEnded(string method, StatusCode status, long startTimestamp)
    {
        var tags = new TagList
        {
            { "rpc.system", "grpc" },
            { "rpc.service", SparkConnectMethods.ServiceName },
            { "rpc.method", method },
            { "rpc.grpc.status_code", (int)status },
        };
        _calls.Add(1, tags);
        _callDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
    }

    public void EngineCallEnded(string method, string engineId, long startTimestamp)
        => _engineDuration.Record(
            Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds,
            new TagList { { "rpc.system", "grpc" }, { "rpc.service", SparkConnectMethods.ServiceName }, { "rpc.method", method }, { "spark_connect.engine.id", engineId } });

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

    public void SessionOpened()
    {
        _activeSessions.Add(1);
        _sessionsOpened.Add(1);
    }

    /// <param name="reason">One of <see cref="SessionCloseReasons"/>.</param>
    public void SessionClosed(string reason)
    {
        _activeSessions.Add(-1);
        _sessionsClosed.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    /// <param name="reason">missing_credential, invalid_credential or unavailable.</param>
    public void AuthenticationFailed(string reason)
        => _authenticationFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <param name="reason">One of <see cref="RefusalReasons"/>.</param>
    /// <param name="method">The telemetry name of the method.</param>
    public void Refused(string reason, string method)
        => _refusals.Add(1, new KeyValuePair<string, object?>("reason", reason), new KeyValuePair<string, object?>("rpc.method", method));

    public void EngineLost() => _enginesLost.Add(1);
}

/// <summary>Why a session was forgotten: the values of the <c>reason</c> tag of <c>sessions.closed</c> and of the audit line.</summary>
internal static class SessionCloseReasons
{
    public const string Released = "released";
    public const string Expired = "expired";
    public const string EngineLost = "engine_lost";
    public const string CloneFailed = "clone_failed";
    public const string Admin = "admin";
}

/// <summary>Why a call was refused: the values of the <c>reason</c> tag of <c>refusals</c>.</summary>
internal static class RefusalReasons
{
    public const string Throttle = "throttle";
    public const string DenyList = "deny_list";
    public const string Limit = "limit";
    public const string Authorization = "authorization";
    public const string Ownership = "ownership";

    /// <summary>The reason of a refusal: the one its thrower named, else the one its status implies.</summary>
    public static string? Of(GatewayException e) => e.Refusal ?? e.StatusCode switch
    {
        StatusCode.ResourceExhausted => Limit,
        StatusCode.PermissionDenied => Authorization,
        _ => null,
    };
}
