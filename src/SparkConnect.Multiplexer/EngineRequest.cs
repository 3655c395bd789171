using System.Net;

namespace SparkConnect.Multiplexer;

/// <summary>What an <see cref="IEngineLocator"/> is asked to find: the engine for a new session.</summary>
/// <remarks>
/// A locator that launches engines must honour <see cref="MayLaunch"/>: when it is <see langword="false"/>, return an
/// engine that already runs (or is already starting) for <see cref="Key"/>, or throw
/// <see cref="EngineNotRunningException"/>; never start one.
/// </remarks>
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

    /// <summary>
    /// Whether the locator may launch an engine for this request. Default <see langword="true"/>.
    /// </summary>
    /// <remarks>
    /// <see langword="false"/> when the call cannot create a Spark session (ReleaseSession, ReattachExecute,
    /// ReleaseExecute, GetStatus, CloneSession: Spark's server answers them only for a session it already has) and
    /// the gateway does not know the session (it expired here, or this gateway restarted with an in-memory store),
    /// and whenever the gateway looks again for the engine of a session it has already bound (a session never moves).
    /// The locator then returns an engine that already runs for <see cref="Key"/> — a live session on it can still be
    /// reattached and released — or throws <see cref="EngineNotRunningException"/>, and the gateway answers the call
    /// the way Spark answers for an unknown session. A locator that never launches (a fixed list of engines) may
    /// ignore it.
    /// </remarks>
    public bool MayLaunch { get; init; } = true;
}
