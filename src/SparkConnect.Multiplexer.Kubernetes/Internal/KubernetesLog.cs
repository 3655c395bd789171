using Microsoft.Extensions.Logging;

namespace SparkConnect.Multiplexer.Kubernetes.Internal;

/// <summary>Every log line of this package, with stable event ids. Never pass a token or kubeconfig secret here.</summary>
internal static partial class KubernetesLog
{
    [LoggerMessage(4001, LogLevel.Information, "Listed {Count} engine pod(s) in namespace {Namespace} at resourceVersion {ResourceVersion}")]
    public static partial void Listed(ILogger logger, string @namespace, int count, string? resourceVersion);

    [LoggerMessage(4002, LogLevel.Debug, "Watch of namespace {Namespace} ended; watching again from resourceVersion {ResourceVersion}")]
    public static partial void WatchEnded(ILogger logger, string @namespace, string? resourceVersion);

    [LoggerMessage(4003, LogLevel.Information, "Watch of namespace {Namespace} answered 410 Gone; listing again")]
    public static partial void WatchGone(ILogger logger, string @namespace);

    [LoggerMessage(4004, LogLevel.Warning, "Watching pods in namespace {Namespace} failed; retrying in {Delay}")]
    public static partial void WatchFailed(ILogger logger, string @namespace, TimeSpan delay, Exception exception);

    [LoggerMessage(4005, LogLevel.Warning, "Engine pod {EngineId} is no longer serving ({Reason}); its sessions are lost")]
    public static partial void EngineLost(ILogger logger, string engineId, string reason);

    [LoggerMessage(4006, LogLevel.Information, "Creating engine pod {Namespace}/{PodName} for {EngineKey} (image {Image})")]
    public static partial void Creating(ILogger logger, string @namespace, string podName, EngineKey engineKey, string image);

    [LoggerMessage(4007, LogLevel.Information, "Engine pod {EngineId} for {EngineKey} is ready at {Address} after {Seconds:0.0} s")]
    public static partial void Ready(ILogger logger, string engineId, EngineKey engineKey, Uri address, double seconds);

    [LoggerMessage(4008, LogLevel.Error, "Engine pod {Namespace}/{PodName} for {EngineKey} failed to start: {Reason}")]
    public static partial void LaunchFailed(ILogger logger, string @namespace, string podName, EngineKey engineKey, string reason, Exception? exception);

    [LoggerMessage(4009, LogLevel.Information, "Deleting engine pod {Namespace}/{PodName}: {Reason}")]
    public static partial void Deleting(ILogger logger, string @namespace, string podName, string reason);

    [LoggerMessage(4010, LogLevel.Warning, "Deleting engine pod {Namespace}/{PodName} failed")]
    public static partial void DeleteFailed(ILogger logger, string @namespace, string podName, Exception exception);

    [LoggerMessage(4011, LogLevel.Warning, "Cleaning up engine pods failed")]
    public static partial void CleanupFailed(ILogger logger, Exception exception);

    [LoggerMessage(4012, LogLevel.Warning, "Engine pod {Namespace}/{PodName} is Running and Ready but has no Spark Connect port (label or annotation {PortLabel}, or container port {PortName}); it is not used")]
    public static partial void NoPort(ILogger logger, string @namespace, string podName, string portLabel, string portName);

    [LoggerMessage(4013, LogLevel.Debug, "Reading the status summary of pod {Namespace}/{PodName} failed")]
    public static partial void SummaryFailed(ILogger logger, string @namespace, string podName, Exception exception);

    [LoggerMessage(4014, LogLevel.Debug, "A session for {EngineKey} waits for the engine pod launch under way in namespace {Namespace} (pod {PodName})")]
    public static partial void JoiningLaunch(ILogger logger, EngineKey engineKey, string @namespace, string? podName);

    [LoggerMessage(4015, LogLevel.Warning, "Engine pod {EngineId} is Running and Ready but its engine was reported gone ({Reason}); no new session goes to it, and a pod this gateway launched is deleted")]
    public static partial void ReportedGone(ILogger logger, string engineId, string reason);
}
