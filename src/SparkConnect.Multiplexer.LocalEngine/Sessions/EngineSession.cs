using System.Collections.Concurrent;
using DuckDB.NET.Data;
using SparkConnect.Multiplexer.LocalEngine.Execution;

namespace SparkConnect.Multiplexer.LocalEngine.Sessions;

/// <summary>
/// One Spark session: its own DuckDB connection (so temporary views stay private to it), configuration,
/// operations, artifacts and the errors clients may fetch details of.
/// </summary>
internal sealed class EngineSession : IAsyncDisposable
{
    private const int MaxStoredErrors = 100;
    private readonly ConcurrentQueue<string> _errorOrder = new();

    public EngineSession(string userId, string sessionId, DuckDBConnection connection, LocalEngineOptions options)
    {
        UserId = userId;
        SessionId = sessionId;
        Connection = connection;
        Config = new SessionConfig(options);
    }

    public string UserId { get; }

    public string SessionId { get; }

    public string ServerSideSessionId { get; } = Guid.NewGuid().ToString();

    public DuckDBConnection Connection { get; }

    /// <summary>A DuckDB connection runs one statement at a time; every use of <see cref="Connection"/> holds this.</summary>
    public SemaphoreSlim ConnectionLock { get; } = new(1, 1);

    public SessionConfig Config { get; }

    /// <summary>The time zone last given to DuckDB (it converts TIMESTAMPTZ text in it); touched under the connection lock.</summary>
    public string? AppliedTimeZone { get; set; }

    public ConcurrentDictionary<string, ExecuteOperation> Operations { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, byte[]> Artifacts { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, EngineException> Errors { get; } = new(StringComparer.Ordinal);

    public TimeZoneInfo TimeZone => TimeZoneInfo.TryFindSystemTimeZoneById(Config.TimeZoneId, out var zone) ? zone : TimeZoneInfo.Utc;

    /// <summary>Keeps an error for FetchErrorDetails; the oldest go first so a failing client cannot grow memory.</summary>
    public string RememberError(EngineException error)
    {
        var id = Guid.NewGuid().ToString();
        Errors[id] = error;
        _errorOrder.Enqueue(id);
        while (_errorOrder.Count > MaxStoredErrors && _errorOrder.TryDequeue(out var old))
        {
            Errors.TryRemove(old, out _);
        }

        return id;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var operation in Operations.Values)
        {
            operation.Cancel();
        }

        Operations.Clear();
        await ConnectionLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await Connection.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            ConnectionLock.Release();
        }
    }
}
