using Microsoft.Extensions.Logging;

namespace SparkConnect.Multiplexer.Processes.Internal;

/// <summary>
/// The process launcher's log events; ids are stable, in the package's range 7000–7999 (docs/logging.md). Command lines
/// are logged redacted.
/// </summary>
internal static partial class ProcessEngineLog
{
    [LoggerMessage(7001, LogLevel.Information, "Launching engine {EngineId} for {EngineKey} on port {Port} in {WorkDirectory}: {CommandLine}")]
    public static partial void LaunchStarted(ILogger logger, string engineId, EngineKey engineKey, int port, string workDirectory, string commandLine);

    [LoggerMessage(7002, LogLevel.Information, "Engine {EngineId} for {EngineKey} is ready at {Address} after {Seconds:0.0} s (process {ProcessId})")]
    public static partial void Ready(ILogger logger, string engineId, EngineKey engineKey, Uri address, double seconds, int processId);

    [LoggerMessage(7003, LogLevel.Error, "Engine {EngineId} for {EngineKey} failed to start: {Reason}")]
    public static partial void LaunchFailed(ILogger logger, string engineId, EngineKey engineKey, string reason, Exception? exception);

    [LoggerMessage(7004, LogLevel.Information, "Stopping engine {EngineId} for {EngineKey}: no session for {Idle}")]
    public static partial void StoppingIdle(ILogger logger, string engineId, EngineKey engineKey, TimeSpan idle);

    [LoggerMessage(7005, LogLevel.Warning, "Engine {EngineId} for {EngineKey} exited with code {ExitCode}; its sessions are lost")]
    public static partial void Exited(ILogger logger, string engineId, EngineKey engineKey, int exitCode);

    [LoggerMessage(7006, LogLevel.Information, "Engine {EngineId} for {EngineKey} reached its maximum lifetime {Lifetime}; new sessions get a new engine and it stops when its sessions are gone")]
    public static partial void Retired(ILogger logger, string engineId, EngineKey engineKey, TimeSpan lifetime);

    [LoggerMessage(7007, LogLevel.Information, "Engine {EngineId} stopped ({Reason}); exited gracefully: {Graceful}")]
    public static partial void Stopped(ILogger logger, string engineId, string reason, bool graceful);

    [LoggerMessage(7008, LogLevel.Warning, "Engine {EngineId} for {EngineKey} was reported lost ({Reason}); stopping it and launching a new one")]
    public static partial void ReportedLost(ILogger logger, string engineId, EngineKey engineKey, string reason);

    [LoggerMessage(7009, LogLevel.Warning, "Checking launched engines for idleness failed")]
    public static partial void IdleCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(7010, LogLevel.Information, "Stopping {Count} launched engine(s) as the gateway stops")]
    public static partial void StoppingAll(ILogger logger, int count);

    [LoggerMessage(7011, LogLevel.Warning, "Whether other gateway replicas use {Count} idle engine(s) cannot be told; keeping them until it can")]
    public static partial void RemoteUseUnknown(ILogger logger, int count, Exception exception);

    [LoggerMessage(7012, LogLevel.Warning, "Stopping engine {EngineId} (process {ProcessId}) left running by gateway process {GatewayProcessId}, which is gone; its directory is {WorkDirectory}")]
    public static partial void StoppingOrphan(ILogger logger, string engineId, int processId, int gatewayProcessId, string workDirectory);

    [LoggerMessage(7013, LogLevel.Warning, "The state file of engine {EngineId} could not be written in {WorkDirectory}; if this gateway dies, the next one will not stop the engine")]
    public static partial void StateNotWritten(ILogger logger, string engineId, string workDirectory, Exception exception);

    [LoggerMessage(7014, LogLevel.Warning, "Engine {EngineId} for {EngineKey} at {Address} is left running as the gateway stops: sessions use it through another replica or a shared session store. The gateway started next with the same working directory adopts it")]
    public static partial void HandedOver(ILogger logger, string engineId, EngineKey engineKey, Uri address);

    [LoggerMessage(7015, LogLevel.Warning, "Adopted engine {EngineId} for {EngineKey} at {Address} (process {ProcessId}), left running by gateway process {GatewayProcessId}: sessions still use it")]
    public static partial void Adopted(ILogger logger, string engineId, EngineKey engineKey, Uri address, int processId, int gatewayProcessId);

    [LoggerMessage(7016, LogLevel.Warning, "Engine {EngineId} is still in use but cannot be adopted: {Reason}")]
    public static partial void NotAdopted(ILogger logger, string engineId, string reason);

    [LoggerMessage(7017, LogLevel.Warning, "Whether sessions still use {Count} engine(s) cannot be told as the gateway stops; they are left running, and the gateway started next with the same working directory stops those nobody uses")]
    public static partial void UseUnknownAtStop(ILogger logger, int count, Exception exception);
}
