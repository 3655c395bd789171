using Microsoft.Extensions.Logging;

namespace SparkConnect.Multiplexer.ZooKeeper;

/// <summary>The ZooKeeper integration's log events; ids are stable (601-699).</summary>
internal static partial class ZooKeeperLog
{
    [LoggerMessage(3001, LogLevel.Information, "Connected to ZooKeeper {ConnectionString} (session 0x{SessionId:x})")]
    public static partial void Connected(ILogger logger, string connectionString, long sessionId);

    [LoggerMessage(3002, LogLevel.Warning, "ZooKeeper session 0x{SessionId:x} expired; connecting with a new session")]
    public static partial void SessionExpired(ILogger logger, long sessionId);

    [LoggerMessage(3003, LogLevel.Information, "New ZooKeeper session 0x{SessionId:x}: re-created {Count} owned node(s) and re-armed watches")]
    public static partial void SessionRestored(ILogger logger, long sessionId, int count);

    [LoggerMessage(3004, LogLevel.Warning, "Reconnecting to ZooKeeper failed; retrying")]
    public static partial void ReconnectFailed(ILogger logger, Exception exception);

    [LoggerMessage(3005, LogLevel.Debug, "ZooKeeper C client: {Message}")]
    public static partial void NativeMessage(ILogger logger, string message);

    [LoggerMessage(3006, LogLevel.Information, "ZooKeeper connection state {State}")]
    public static partial void StateChanged(ILogger logger, string state);

    [LoggerMessage(3007, LogLevel.Warning, "Re-creating owned ZooKeeper node {Path} failed")]
    public static partial void RecreateFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(3010, LogLevel.Information, "Engine space {Path} now has {Count} engine node(s)")]
    public static partial void EngineSpaceChanged(ILogger logger, string path, int count);

    [LoggerMessage(3011, LogLevel.Warning, "Engine {EngineId} is gone from ZooKeeper ({Node}); its sessions are lost")]
    public static partial void EngineNodeRemoved(ILogger logger, string engineId, string node);

    [LoggerMessage(3012, LogLevel.Warning, "Reading engine space {Path} failed; retrying")]
    public static partial void RefreshFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(3013, LogLevel.Information, "Locked {LockPath}: launching the engine for {EngineKey}")]
    public static partial void LaunchLocked(ILogger logger, string lockPath, EngineKey engineKey);

    [LoggerMessage(3014, LogLevel.Information, "Registered launched engine {EngineId} for {EngineKey} as {Node}")]
    public static partial void LaunchedEngineRegistered(ILogger logger, string engineId, EngineKey engineKey, string node);

    [LoggerMessage(3015, LogLevel.Information, "Launched engine {EngineId} is no longer running; removed its node {Node}")]
    public static partial void LaunchedEngineUnregistered(ILogger logger, string engineId, string node);

    [LoggerMessage(3016, LogLevel.Information, "Found engine for {EngineKey} registered by another gateway after waiting for {LockPath}")]
    public static partial void FoundAfterLock(ILogger logger, EngineKey engineKey, string lockPath);

    [LoggerMessage(3020, LogLevel.Information, "Registered this gateway in ZooKeeper as {Node}")]
    public static partial void GatewayRegistered(ILogger logger, string node);

    [LoggerMessage(3021, LogLevel.Information, "Removed this gateway's ZooKeeper node {Node}")]
    public static partial void GatewayDeregistered(ILogger logger, string node);

    [LoggerMessage(3022, LogLevel.Error, "Registering this gateway in ZooKeeper failed")]
    public static partial void GatewayRegistrationFailed(ILogger logger, Exception exception);

    [LoggerMessage(3023, LogLevel.Warning, "Watching launched engines failed")]
    public static partial void LaunchMonitorFailed(ILogger logger, Exception exception);

    [LoggerMessage(3024, LogLevel.Warning, "Telling other replicas through ZooKeeper that this one uses engine {EngineId} failed; its launching replica may stop it as idle")]
    public static partial void EngineUseMarkFailed(ILogger logger, string engineId, Exception exception);

    [LoggerMessage(3025, LogLevel.Warning, "Updating this replica's engine use in ZooKeeper failed; retrying at the next check")]
    public static partial void EngineUseSweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(3008, LogLevel.Warning, "Lost the connection to ZooKeeper {ConnectionString}; reconnecting. Until it is back no new engine can be found or launched, and after {SessionTimeoutSeconds:0.#} s a new session is opened")]
    public static partial void ConnectionLost(ILogger logger, string connectionString, double sessionTimeoutSeconds);

    [LoggerMessage(3009, LogLevel.Warning, "No connection to ZooKeeper for {Seconds:0.#} s, longer than the session timeout: giving session 0x{SessionId:x} up and opening a new one at {ConnectionString} (this gateway's nodes and watches are restored when it connects)")]
    public static partial void SessionAbandoned(ILogger logger, long sessionId, double seconds, string connectionString);

    [LoggerMessage(3026, LogLevel.Warning, "Engines this gateway launches listen on, and register in ZooKeeper {ConnectionString} as, {Host}, a loopback address: gateway replicas on other machines cannot reach them. With replicas on several hosts set SparkConnectGateway:ProcessEngines:Host to this machine's address (or SparkConnectGateway:ZooKeeper:LaunchedEngineHost to the name others reach it by)")]
    public static partial void LaunchedEnginesOnLoopback(ILogger logger, string host, string connectionString);
}
