using System.Net;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace SparkConnect.Multiplexer.Internal;

/// <summary>The gateway's log events; ids are stable. Never pass a credential to any of them.</summary>
internal static partial class GatewayLog
{
    [LoggerMessage(1, LogLevel.Information, "Session {SessionId} opened by {User} from {Peer} on engine {EngineId} ({EngineKey})")]
    public static partial void SessionOpened(ILogger logger, string sessionId, string user, IPAddress? peer, string engineId, EngineKey engineKey);

    [LoggerMessage(2, LogLevel.Warning, "Refused session {SessionId} to {User} from {Peer}: it belongs to another user")]
    public static partial void SessionHijackRefused(ILogger logger, string sessionId, string user, IPAddress? peer);

    [LoggerMessage(3, LogLevel.Information, "Authentication refused for a call from {Peer}: {Reason}")]
    public static partial void AuthenticationRefused(ILogger logger, IPAddress? peer, string reason);

    [LoggerMessage(4, LogLevel.Warning, "Authentication could not be checked for a call from {Peer}: {Reason}")]
    public static partial void AuthenticationUnavailable(ILogger logger, IPAddress? peer, string reason);

    [LoggerMessage(5, LogLevel.Information, "{Method} of {User} from {Peer} refused with {StatusCode}: {Reason}")]
    public static partial void CallRefused(ILogger logger, string method, string user, IPAddress? peer, StatusCode statusCode, string reason);

    [LoggerMessage(6, LogLevel.Warning, "Engine {EngineId} failed {Method} for session {SessionId}: {Reason}")]
    public static partial void EngineFailed(ILogger logger, string engineId, string method, string sessionId, string reason, Exception? exception);

    [LoggerMessage(7, LogLevel.Information, "Session {SessionId} of {User} released")]
    public static partial void SessionReleased(ILogger logger, string sessionId, string user);

    [LoggerMessage(8, LogLevel.Error, "{Method} failed unexpectedly in the gateway")]
    public static partial void UnexpectedFailure(ILogger logger, string method, Exception exception);

    [LoggerMessage(9, LogLevel.Warning, "Authentication is OFF (SparkConnectGateway:Authentication:Mode = None): every client is whoever its user_context.user_id says. Use this for trials only.")]
    public static partial void AuthenticationDisabled(ILogger logger);

    [LoggerMessage(10, LogLevel.Information, "Spark Connect gateway ready: default share level {ShareLevel}, {TokenCount} static token(s), {AuthenticatorCount} host authenticator(s), engine locator {Locator}, session store {Store}")]
    public static partial void Ready(ILogger logger, ShareLevel shareLevel, int tokenCount, int authenticatorCount, string locator, string store);

    [LoggerMessage(11, LogLevel.Debug, "{Method} for session {SessionId} of {User} -> engine {EngineId}")]
    public static partial void Forwarding(ILogger logger, string method, string sessionId, string user, string engineId);

    [LoggerMessage(12, LogLevel.Warning, "Session {SessionId} is bound to engine {EngineId}, which is gone: {Reason}")]
    public static partial void EngineLost(ILogger logger, string sessionId, string engineId, string reason);

    [LoggerMessage(13, LogLevel.Error, "The gateway's {Task} failed; it runs again at its next interval")]
    public static partial void BackgroundTaskFailed(ILogger logger, string task, Exception exception);

    [LoggerMessage(14, LogLevel.Information, "Session {SessionId} of {User} expired after {Idle} idle")]
    public static partial void SessionExpired(ILogger logger, string sessionId, string user, TimeSpan idle);

    [LoggerMessage(15, LogLevel.Warning, "Engine {EngineId} did not confirm releasing expired session {SessionId}: {Reason}")]
    public static partial void ReleaseOnEngineFailed(ILogger logger, string sessionId, string engineId, string reason);

    [LoggerMessage(16, LogLevel.Warning, "Health probe {Failures} of engine {EngineId} failed: {Reason}")]
    public static partial void EngineProbeFailed(ILogger logger, string engineId, int failures, string reason);

    [LoggerMessage(17, LogLevel.Warning, "Too many failed authentications from {Peer}: refusing its calls for {RetryAfter}")]
    public static partial void AuthenticationThrottled(ILogger logger, System.Net.IPAddress? peer, TimeSpan retryAfter);

    [LoggerMessage(18, LogLevel.Error, "The session store {Store} failed to {Operation} a session")]
    public static partial void SessionStoreFailed(ILogger logger, string operation, string store, Exception exception);

    [LoggerMessage(19, LogLevel.Warning, "The session store {Store} failed to record activity on session {SessionId}; its idle time may count from an earlier call")]
    public static partial void SessionTouchFailed(ILogger logger, string store, string sessionId, Exception exception);

    [LoggerMessage(20, LogLevel.Warning, "The response was cut inside a gRPC message; the stream was reset so the client sees {StatusCode} rather than a truncated message: {Reason}")]
    public static partial void StreamResetMidMessage(ILogger logger, StatusCode statusCode, string reason);

    [LoggerMessage(21, LogLevel.Information, "Session {SessionId} of {User} is unknown and no engine runs for {EngineKey}: the call, which cannot create a session, is answered as Spark answers it, without launching an engine")]
    public static partial void UnknownSessionNotLaunched(ILogger logger, string sessionId, string user, EngineKey engineKey);

    [LoggerMessage(22, LogLevel.Warning, "The Spark Connect gateway is registered (AddSparkConnectGateway) but not mapped: call app.MapSparkConnectGateway(), or clients get HTTP 404 for every call")]
    public static partial void NotMapped(ILogger logger);

    [LoggerMessage(30, LogLevel.Warning, "No address of this server accepts HTTP/2 ({Addresses}), and every Spark Connect client needs it: clients get HTTP_1_1_REQUIRED. Set the Kestrel endpoint's Protocols to Http2 for cleartext, or Http1AndHttp2 with TLS")]
    public static partial void NoHttp2Endpoint(ILogger logger, string addresses);

    [LoggerMessage(31, LogLevel.Information, "{Address} does not accept HTTP/2: Spark Connect calls to it fail (fine for an HTTP/1 port such as a management endpoint)")]
    public static partial void EndpointWithoutHttp2(ILogger logger, string address);

    [LoggerMessage(32, LogLevel.Debug, "HTTP/2 check of the bound addresses: {Answers}")]
    public static partial void Http2Checked(ILogger logger, string answers);
    [LoggerMessage(23, LogLevel.Warning, "Engine {EngineId} is gone ({Reason}); {SessionCount} session(s) bound to it are told on their next call and released")]
    public static partial void EngineLostDetected(ILogger logger, string engineId, string reason, int sessionCount);

    [LoggerMessage(24, LogLevel.Warning, "Engine {EngineId} is gone ({Reason}); its sessions could not be counted")]
    public static partial void EngineLostUncounted(ILogger logger, string engineId, string reason, Exception exception);

    [LoggerMessage(25, LogLevel.Information, "Shutting down: readiness reports not ready; listeners stay open for {Delay} (SparkConnectGateway:ShutdownDelay) so load balancers stop sending calls")]
    public static partial void ShutdownDelayStarted(ILogger logger, TimeSpan delay);

    [LoggerMessage(26, LogLevel.Warning, "Admin request {Method} {Path} from {Peer} refused with {StatusCode}: {Reason}")]
    public static partial void AdminRefused(ILogger logger, string method, string path, System.Net.IPAddress? peer, int statusCode, string reason);

    [LoggerMessage(40, LogLevel.Warning, "At the drain's end a stream could not be ended with UNAVAILABLE within {Grace} (its client reads slowly, or the response stopped inside a message); the stream was reset with REFUSED_STREAM, which gRPC clients see as UNAVAILABLE")]
    public static partial void DrainedStreamCut(ILogger logger, TimeSpan grace);

    [LoggerMessage(101, LogLevel.Information, "Session {SessionId} of {User} is no longer in the session store (released or expired through another gateway instance, or lost by the store); its limit slots are freed")]
    public static partial void SessionUncounted(ILogger logger, string sessionId, string user);
}
