using System.Diagnostics.CodeAnalysis;

namespace SparkConnect.Multiplexer;

/// <summary>
/// What the gateway knows about engines that are gone, for the locators and launchers that find out first — the
/// built-in ones (process, Kubernetes, ZooKeeper, local) and any third party's, through this same contract. Resolve it
/// from the service provider (it is registered by <c>AddSparkConnectGateway()</c>).
/// </summary>
/// <remarks>
/// A report takes effect at once: no new session is routed to the engine, the gateway's pooled connections to it are
/// dropped, and each session bound to it before the report gets <c>UNAVAILABLE</c> "engine lost" with the reason at
/// its next call and is released (the client starts a new session). An engine id handed out again later by the locator
/// (an engine that came back) serves new sessions normally. Thread-safe.
/// </remarks>
public interface IEngineLifecycle
{
    /// <summary>Reports that an engine is gone without anyone stopping it: its process exited, its pod or registration vanished, probes failed.</summary>
    /// <param name="engineId">The <see cref="EngineEndpoint.Id"/> the locator returned.</param>
    /// <param name="reason">Why, for the sessions' clients and the log, e.g. "engine pod deleted".</param>
    void ReportLost(string engineId, string reason);

    /// <summary>Reports that an engine was stopped on purpose: idle, past its lifetime, by an administrator.</summary>
    /// <param name="engineId">The <see cref="EngineEndpoint.Id"/> the locator returned.</param>
    /// <param name="reason">Why, for the sessions' clients and the log, e.g. "no session for 00:30:00".</param>
    void ReportStopped(string engineId, string reason);

    /// <summary>Whether the engine has been reported gone in the last hours, and the report.</summary>
    /// <param name="engineId">The engine id.</param>
    /// <param name="report">The last report, when there is one.</param>
    /// <returns><see langword="true"/> when it was reported lost or stopped.</returns>
    bool IsGone(string engineId, [NotNullWhen(true)] out EngineGoneEventArgs? report);

    /// <summary>Raised after each report, on the reporter's thread: keep handlers short and let them not throw.</summary>
    event EventHandler<EngineGoneEventArgs>? EngineGone;
}

/// <summary>How an engine went.</summary>
public enum EngineGoneKind
{
    /// <summary>Gone without being stopped (see <see cref="IEngineLifecycle.ReportLost"/>).</summary>
    Lost,

    /// <summary>Stopped on purpose (see <see cref="IEngineLifecycle.ReportStopped"/>).</summary>
    Stopped,
}

/// <summary>A report that an engine is gone.</summary>
public sealed class EngineGoneEventArgs : EventArgs
{
    /// <summary>The engine's id.</summary>
    public required string EngineId { get; init; }

    /// <summary>Lost or stopped.</summary>
    public required EngineGoneKind Kind { get; init; }

    /// <summary>Why, as reported.</summary>
    public required string Reason { get; init; }

    /// <summary>When it was reported; sessions bound to the engine before this are lost.</summary>
    public required DateTimeOffset At { get; init; }
}
