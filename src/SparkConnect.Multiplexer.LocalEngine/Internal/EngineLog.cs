using Microsoft.Extensions.Logging;

namespace SparkConnect.Multiplexer.LocalEngine.Internal;

/// <summary>The engine's log messages, with stable event ids.</summary>
internal static partial class EngineLog
{
    [LoggerMessage(5001, LogLevel.Information, "Local Spark Connect engine listening on {Address} (database {Database}, credential {Credential}, data directory {DataDirectory}).")]
    public static partial void EngineStarted(ILogger logger, Uri address, string database, string credential, string dataDirectory);

    [LoggerMessage(5002, LogLevel.Information, "Local Spark Connect engine on {Address} stopped.")]
    public static partial void EngineStopped(ILogger logger, Uri address);

    [LoggerMessage(5003, LogLevel.Debug, "Operation {OperationId} of session {SessionId} failed with {ErrorClass}.")]
    public static partial void OperationFailed(ILogger logger, string operationId, string sessionId, string errorClass, Exception error);

    [LoggerMessage(5004, LogLevel.Information, "Started local engine {EngineId} for engine key {Key} at {Address}.")]
    public static partial void LocatorStarted(ILogger logger, string engineId, string key, Uri address);

    [LoggerMessage(5005, LogLevel.Warning, "Stopping local engine {EngineId} failed.")]
    public static partial void LocatorStopFailed(ILogger logger, string engineId, Exception error);

    [LoggerMessage(5006, LogLevel.Information, "Stopping local engine {EngineId} for engine key {Key}: no session for {Idle}.")]
    public static partial void LocatorStoppingIdle(ILogger logger, string engineId, string key, TimeSpan idle);

    [LoggerMessage(5007, LogLevel.Warning, "Refused to start a local engine for engine key {Key} (user {User}): {Option} ({Limit}) reached.")]
    public static partial void LocatorRefused(ILogger logger, string key, string user, string option, int limit);

    [LoggerMessage(5008, LogLevel.Warning, "Checking local engines for idleness failed.")]
    public static partial void LocatorIdleCheckFailed(ILogger logger, Exception error);

    [LoggerMessage(5009, LogLevel.Warning, "Stopping local engine {EngineId} for engine key {Key}: reported lost ({Reason}).")]
    public static partial void LocatorStoppingLost(ILogger logger, string engineId, string key, string reason);
}
