using System.Collections.Concurrent;
using DuckDB.NET.Data;

namespace SparkConnect.Multiplexer.LocalEngine.Sessions;

/// <summary>
/// The sessions of one engine, keyed by (user_id, session_id) as Spark keys them. Each session gets a duplicate
/// of the engine's root DuckDB connection: same database (tables shared), private temporary objects.
/// </summary>
internal sealed class SessionManager : IAsyncDisposable
{
    private const int MaxClosedSessions = 10_000;
    private readonly DuckDBConnection _root;
    private readonly LocalEngineOptions _options;
    private readonly ConcurrentDictionary<(string User, string Session), Lazy<EngineSession>> _sessions = new();
    private readonly ConcurrentDictionary<(string User, string Session), byte> _closed = new();
    private readonly Lock _createLock = new();

    public SessionManager(DuckDBConnection root, LocalEngineOptions options)
    {
        _root = root;
        _options = options;
    }

    public int Count => _sessions.Count;

    /// <summary>The session for a request, created on first use; checks the id format and the observed server-side id.</summary>
    public EngineSession GetOrCreate(string userId, string sessionId, string? observedServerSideSessionId)
    {
        if (!Guid.TryParse(sessionId, out _))
        {
            throw new EngineException(ErrorClasses.SessionIdFormat, $"The handle {sessionId} is invalid. Handle must be an UUID string of the format '00112233-4455-6677-8899-aabbccddeeff'.", new() { ["handle"] = sessionId });
        }

        var key = (userId, sessionId);
        if (_closed.ContainsKey(key))
        {
            throw new EngineException(ErrorClasses.SessionClosed, $"The handle {sessionId} is invalid. Session was closed.", new() { ["handle"] = sessionId });
        }

        var session = _sessions.GetOrAdd(key, k => new Lazy<EngineSession>(() => Create(k.User, k.Session))).Value;
        if (!string.IsNullOrEmpty(observedServerSideSessionId) && observedServerSideSessionId != session.ServerSideSessionId)
        {
            throw new EngineException(ErrorClasses.SessionChanged, $"The handle {sessionId} is invalid. The existing Spark server driver instance has restarted. Please reconnect.", new() { ["handle"] = sessionId });
        }

        return session;
    }

    private EngineSession Create(string userId, string sessionId)
    {
        // Duplicate() touches the shared database instance; one at a time keeps DuckDB.NET's bookkeeping simple.
        lock (_createLock)
        {
            // DuckDB.NET duplicates only in-memory connections; a second connection to the same file shares the
            // database instance (and its locked, sandboxed configuration) all the same.
            var connection = _options.DatabasePath is null ? _root.Duplicate() : new DuckDBConnection(_root.ConnectionString);
            connection.Open();
            return new EngineSession(userId, sessionId, connection, _options);
        }
    }

    /// <summary>Drops a session: cancels its operations, closes its connection and refuses the id from now on.</summary>
    public async ValueTask<EngineSession?> ReleaseAsync(string userId, string sessionId)
    {
        var key = (userId, sessionId);
        if (_closed.Count < MaxClosedSessions)
        {
            _closed[key] = 0;
        }

        if (_sessions.TryRemove(key, out var lazy) && lazy.IsValueCreated)
        {
            await lazy.Value.DisposeAsync().ConfigureAwait(false);
            return lazy.Value;
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var lazy in _sessions.Values)
        {
            if (lazy.IsValueCreated)
            {
                await lazy.Value.DisposeAsync().ConfigureAwait(false);
            }
        }

        _sessions.Clear();
    }
}
