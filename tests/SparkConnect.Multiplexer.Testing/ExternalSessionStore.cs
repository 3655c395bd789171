namespace SparkConnect.Multiplexer.Testing;

/// <summary>
/// A session store that is not the gateway's built-in one, as Redis or a platform's own store is not: every call goes
/// to <paramref name="sessions"/>. The gateway treats any store but the built-in in-memory one as keeping sessions
/// beyond its process; give several gateways of a test the same instance for a store that outlives each of them.
/// </summary>
/// <param name="sessions">Where the sessions live (an in-memory store, usually).</param>
public sealed class ExternalSessionStore(ISessionStore sessions) : ISessionStore
{
    public ValueTask<SessionClaim> ClaimAsync(SessionRecord candidate, CancellationToken cancellationToken) => sessions.ClaimAsync(candidate, cancellationToken);

    public ValueTask<SessionRecord?> GetAsync(string sessionId, CancellationToken cancellationToken) => sessions.GetAsync(sessionId, cancellationToken);

    public ValueTask TouchAsync(string sessionId, DateTimeOffset timestamp, CancellationToken cancellationToken) => sessions.TouchAsync(sessionId, timestamp, cancellationToken);

    public ValueTask<SessionRecord?> RemoveAsync(string sessionId, CancellationToken cancellationToken) => sessions.RemoveAsync(sessionId, cancellationToken);

    public IAsyncEnumerable<SessionRecord> ListAsync(CancellationToken cancellationToken) => sessions.ListAsync(cancellationToken);
}
