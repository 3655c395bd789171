using System.Diagnostics.CodeAnalysis;

namespace SparkConnect.Multiplexer.Engines;

/// <summary>
/// The one way an engine is declared gone: recorded in the registry (which the session router reads), its pooled
/// connections dropped, and the event raised.
/// </summary>
internal sealed class EngineLifecycle(EngineEndpointRegistry registry, EngineChannelPool channels, TimeProvider time) : IEngineLifecycle
{
    public event EventHandler<EngineGoneEventArgs>? EngineGone;

    public void ReportLost(string engineId, string reason) => Report(engineId, EngineGoneKind.Lost, reason);

    public void ReportStopped(string engineId, string reason) => Report(engineId, EngineGoneKind.Stopped, "engine stopped: " + reason);

    public bool IsGone(string engineId, [NotNullWhen(true)] out EngineGoneEventArgs? report)
    {
        report = registry.IsLostFor(engineId, DateTimeOffset.MinValue, out var loss)
            ? new EngineGoneEventArgs { EngineId = engineId, Kind = loss.Kind, Reason = loss.Reason, At = loss.At }
            : null;
        return report is not null;
    }

    private void Report(string engineId, EngineGoneKind kind, string reason)
    {
        ArgumentException.ThrowIfNullOrEmpty(engineId);
        ArgumentException.ThrowIfNullOrEmpty(reason);

        // Before the registry forgets the endpoint: it names the connections to drop.
        if (registry.TryGet(engineId, out var endpoint))
        {
            channels.Forget(endpoint);
        }

        var at = time.GetUtcNow();
        registry.MarkLost(engineId, reason, at, kind);
        EngineGone?.Invoke(this, new EngineGoneEventArgs { EngineId = engineId, Kind = kind, Reason = reason, At = at });
    }
}
