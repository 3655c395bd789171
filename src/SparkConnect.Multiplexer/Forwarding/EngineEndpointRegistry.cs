using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace SparkConnect.Multiplexer.Forwarding;

/// <summary>
/// The endpoints (with their credentials) this gateway instance has been given by the locator, by engine id. A
/// session record stores only the engine's id and address, so the store holds no secrets.
/// </summary>
internal sealed class EngineEndpointRegistry
{
    private readonly ConcurrentDictionary<string, EngineEndpoint> _endpoints = new(StringComparer.Ordinal);

    public void Remember(EngineEndpoint endpoint) => _endpoints[endpoint.Id] = endpoint;

    public bool TryGet(string engineId, [NotNullWhen(true)] out EngineEndpoint? endpoint) => _endpoints.TryGetValue(engineId, out endpoint);

    public bool Forget(string engineId) => _endpoints.TryRemove(engineId, out _);
}
