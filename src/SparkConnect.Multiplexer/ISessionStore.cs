namespace SparkConnect.Multiplexer;

/// <summary>
/// Remembers which user owns each Spark Connect session and which engine serves it. A session id belongs to the
/// principal that first used it; a store shared by several gateway instances makes that hold across them.
/// </summary>
public interface ISessionStore
{
    /// <summary>
    /// Stores <paramref name="candidate"/> unless a session with its id exists, atomically.
    /// </summary>
    /// <returns>The stored session (the candidate, or the one that was there first) and whether it is new.</returns>
    ValueTask<SessionClaim> ClaimAsync(SessionRecord candidate, CancellationToken cancellationToken);

    /// <summary>Returns the session with <paramref name="sessionId"/>, or <see langword="null"/>.</summary>
    ValueTask<SessionRecord?> GetAsync(string sessionId, CancellationToken cancellationToken);

    /// <summary>Records activity on a session; does nothing for an unknown id.</summary>
    ValueTask TouchAsync(string sessionId, DateTimeOffset timestamp, CancellationToken cancellationToken);

    /// <summary>Forgets a session, atomically.</summary>
    /// <returns>The session that was removed, or <see langword="null"/> when there was none.</returns>
    ValueTask<SessionRecord?> RemoveAsync(string sessionId, CancellationToken cancellationToken);

    /// <summary>Enumerates all sessions (a snapshot; order unspecified).</summary>
    IAsyncEnumerable<SessionRecord> ListAsync(CancellationToken cancellationToken);
}
