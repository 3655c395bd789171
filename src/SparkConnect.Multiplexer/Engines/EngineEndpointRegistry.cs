using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace SparkConnect.Multiplexer.Engines;

/// <summary>
/// The endpoints (with their credentials) this gateway instance has been given by the locator, by engine id — a
/// session record stores only the engine's id and address, so the store holds no secrets — and the engines found
/// dead, so that sessions bound to them are told once and released.
/// </summary>
internal sealed class EngineEndpointRegistry
{
    private static readonly TimeSpan LossMemory = TimeSpan.FromHours(6);

    private readonly ConcurrentDictionary<string, EngineEndpoint> _endpoints = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, EngineLoss> _losses = new(StringComparer.Ordinal);

    public ICollection<EngineEndpoint> Endpoints => _endpoints.Values;

    public void Remember(EngineEndpoint endpoint) => _endpoints[endpoint.Id] = endpoint;

    public bool TryGet(string engineId, [NotNullWhen(true)] out EngineEndpoint? endpoint) => _endpoints.TryGetValue(engineId, out endpoint);

    /// <summary>
    /// Records that an engine is gone: sessions bound to it before <paramref name="at"/> are lost. A locator may hand
    /// out the same id again later (a static engine that came back); sessions created after that are unaffected.
    /// </summary>
    /// <remarks>Called by <see cref="EngineLifecycle"/> only, which also drops the engine's connections and raises the public event.</remarks>
    public void MarkLost(string engineId, string reason, DateTimeOffset at, EngineGoneKind kind)
    {
        _losses[engineId] = new EngineLoss(reason, at, kind);
        _endpoints.TryRemove(engineId, out _);
        foreach (var (id, loss) in _losses)
        {
            if (at - loss.At > LossMemory)
            {
                _losses.TryRemove(id, out _);
            }
        }
    }

    /// <summary>The engines found gone in the last hours, with why and when.</summary>
    public IReadOnlyDictionary<string, EngineLoss> Losses => _losses;

    /// <summary>Whether a session bound to the engine at <paramref name="boundAt"/> has lost it.</summary>
    public bool IsLostFor(string engineId, DateTimeOffset boundAt, [NotNullWhen(true)] out EngineLoss? loss)
        => _losses.TryGetValue(engineId, out loss) && boundAt <= loss.At;
}

/// <summary>Why and when an engine was found gone.</summary>
internal sealed record EngineLoss(string Reason, DateTimeOffset At, EngineGoneKind Kind);
