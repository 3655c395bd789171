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

    /// <summary>An existing session (never creates one), or INVALID_HANDLE.SESSION_NOT_FOUND.</summary>
    public EngineSession Get(string userId, string sessionId, string? observedServerSideSessionId)
    {
        if (!Guid.TryParse(sessionId, out _))
        {
            throw new EngineException(ErrorClasses.SessionIdFormat, $"The handle {sessionId} is invalid. Handle must be an UUID string of the format '00112233-4455-6677-8899-aabbccddeeff'.", new() { ["handle"] = sessionId });
        }

        if (!_sessions.TryGetValue((userId, sessionId), out var lazy) || _closed.ContainsKey((userId, sessionId)))
        {
            throw new EngineException(ErrorClasses.SessionNotFound, $"The handle {sessionId} is invalid. Session not found.", new() { ["handle"] = sessionId });
        }

        var session = lazy.Value;
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
            try
            {
                foreach (var statement in SessionStatements(userId))
                {
                    using var command = connection.CreateCommand();
                    command.CommandText = statement;
                    command.ExecuteNonQuery();
                }
            }
            catch
            {
                connection.Dispose();
                throw;
            }

            return new EngineSession(userId, sessionId, connection, _options);
        }
    }

    /// <summary>
    /// What every session's connection starts with: progress tracking (see Sandbox), and temporary macros that make
    /// Spark SQL functions read as in Spark where DuckDB has a function of the same name that differs: the table
    /// function <c>range(…)</c> yields Spark's column <c>id</c> with Spark's arguments (end; start, end; start, end,
    /// step; and a partition count, meaningless here), and <c>current_user()</c>/<c>user()</c>/<c>session_user()</c>
    /// name the session's user (the gateway's authenticated user), not DuckDB's. Temporary macros are private to the
    /// connection and come before DuckDB's own functions.
    /// </summary>
    private static IEnumerable<string> SessionStatements(string userId)
    {
        foreach (var setting in Service.Sandbox.SessionSettings)
        {
            yield return setting;
        }

        const string Range = "SELECT range AS id FROM system.main.range";
        yield return $"CREATE OR REPLACE TEMP MACRO range(e) AS TABLE ({Range}(e)), (s, e) AS TABLE ({Range}(s, e)), (s, e, st) AS TABLE ({Range}(s, e, st)), (s, e, st, n) AS TABLE ({Range}(s, e, st))";
        var user = SqlText.QuoteString(userId);
        foreach (var name in new[] { "current_user", "\"user\"", "session_user" })
        {
            yield return $"CREATE OR REPLACE TEMP MACRO {name}() AS {user}";
        }
    }

    /// <summary>
    /// CloneSession: a new session of the same user with the source's configuration and temporary views (DuckDB's
    /// temporary tables stay with their connection).
    /// </summary>
    public async Task<EngineSession> CloneAsync(EngineSession source, string newSessionId, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(newSessionId, out _))
        {
            throw new EngineException(ErrorClasses.SessionIdFormat, $"The handle {newSessionId} is invalid. Handle must be an UUID string of the format '00112233-4455-6677-8899-aabbccddeeff'.", new() { ["handle"] = newSessionId });
        }

        var key = (source.UserId, newSessionId);
        if (_closed.ContainsKey(key) || _sessions.ContainsKey(key))
        {
            throw new EngineException(ErrorClasses.SessionAlreadyExists, $"The handle {newSessionId} is invalid. Session already exists.", new() { ["handle"] = newSessionId });
        }

        var views = new List<string>();
        await source.ConnectionLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var command = source.Connection.CreateCommand();
            command.CommandText = "SELECT sql FROM duckdb_views() WHERE temporary AND NOT internal AND sql IS NOT NULL ORDER BY view_oid";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                views.Add(reader.GetString(0));
            }
        }
        finally
        {
            source.ConnectionLock.Release();
        }

        var created = new Lazy<EngineSession>(() => Create(source.UserId, newSessionId));
        if (!_sessions.TryAdd(key, created))
        {
            throw new EngineException(ErrorClasses.SessionAlreadyExists, $"The handle {newSessionId} is invalid. Session already exists.", new() { ["handle"] = newSessionId });
        }

        var clone = created.Value;
        clone.Config.CopyFrom(source.Config);
        foreach (var view in views)
        {
            using var command = clone.Connection.CreateCommand();
            command.CommandText = view;
            command.ExecuteNonQuery();
        }

        return clone;
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
