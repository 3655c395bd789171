namespace SparkConnect.Multiplexer;

/// <summary>A Spark Connect session as the gateway knows it.</summary>
/// <remarks>
/// Built with an object initializer (<c>new SessionRecord { SessionId = ..., ... }</c>) rather than a positional
/// constructor, so a member added later does not break callers' constructor calls or deconstruction.
/// Two records are equal when every member is equal.
/// </remarks>
public sealed record SessionRecord
{
    /// <summary>The client's session id (a UUID).</summary>
    public required string SessionId { get; init; }

    /// <summary>The user name of the principal that owns the session.</summary>
    public required string Owner { get; init; }

    /// <summary>The engine key the session was routed by.</summary>
    public required EngineKey EngineKey { get; init; }

    /// <summary>The <see cref="EngineEndpoint.Id"/> of the engine serving it.</summary>
    public required string EngineId { get; init; }

    /// <summary>That engine's address.</summary>
    public required Uri EngineAddress { get; init; }

    /// <summary>When the session was first seen.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When a call last used it.</summary>
    public required DateTimeOffset LastActivity { get; init; }

    /// <summary>The IP address of the client that opened it, when known (for per-address limits); <see langword="null"/> by default.</summary>
    public string? ClientAddress { get; init; }
}

/// <summary>The result of <see cref="ISessionStore.ClaimAsync"/>.</summary>
/// <param name="Session">The session now stored under the id.</param>
/// <param name="IsNew"><see langword="true"/> when the candidate was stored; <see langword="false"/> when a session existed.</param>
public readonly record struct SessionClaim(SessionRecord Session, bool IsNew);
