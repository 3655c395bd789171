namespace SparkConnect.Multiplexer;

/// <summary>A Spark Connect session as the gateway knows it.</summary>
/// <param name="SessionId">The client's session id (a UUID).</param>
/// <param name="Owner">The user name of the principal that owns the session.</param>
/// <param name="EngineKey">The engine key the session was routed by.</param>
/// <param name="EngineId">The <see cref="EngineEndpoint.Id"/> of the engine serving it.</param>
/// <param name="EngineAddress">That engine's address.</param>
/// <param name="CreatedAt">When the session was first seen.</param>
/// <param name="LastActivity">When a call last used it.</param>
/// <param name="ClientAddress">The IP address of the client that opened it, when known (for per-address limits).</param>
public sealed record SessionRecord(
    string SessionId,
    string Owner,
    EngineKey EngineKey,
    string EngineId,
    Uri EngineAddress,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastActivity,
    string? ClientAddress = null);

/// <summary>The result of <see cref="ISessionStore.ClaimAsync"/>.</summary>
/// <param name="Session">The session now stored under the id.</param>
/// <param name="IsNew"><see langword="true"/> when the candidate was stored; <see langword="false"/> when a session existed.</param>
public readonly record struct SessionClaim(SessionRecord Session, bool IsNew);
