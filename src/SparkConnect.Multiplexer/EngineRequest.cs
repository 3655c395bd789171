using System.Net;

namespace SparkConnect.Multiplexer;

/// <summary>What an <see cref="IEngineLocator"/> is asked to find: the engine for a new session.</summary>
public sealed class EngineRequest
{
    /// <summary>Creates a request.</summary>
    public EngineRequest(GatewayPrincipal principal, EngineKey key, string sessionId, IReadOnlyDictionary<string, string> hints, IPAddress? peerAddress)
    {
        ArgumentNullException.ThrowIfNull(principal);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        ArgumentNullException.ThrowIfNull(hints);
        Principal = principal;
        Key = key;
        SessionId = sessionId;
        Hints = hints;
        PeerAddress = peerAddress;
    }

    /// <summary>The authenticated user.</summary>
    public GatewayPrincipal Principal { get; }

    /// <summary>The engine key chosen for the session.</summary>
    public EngineKey Key { get; }

    /// <summary>The Spark Connect session id being opened.</summary>
    public string SessionId { get; }

    /// <summary>
    /// Routing hints: the call's custom metadata (every non-reserved <c>k=v</c> of an <c>sc://</c> connection string
    /// arrives as a header), keyed case-insensitively.
    /// </summary>
    public IReadOnlyDictionary<string, string> Hints { get; }

    /// <summary>The client's IP address, when known.</summary>
    public IPAddress? PeerAddress { get; }
}
