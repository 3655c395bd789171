using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace SparkConnect.Multiplexer.Redis.Sessions;

/// <summary>
/// Sessions in Redis, shared by every gateway replica: a session id keeps its owner and its engine whichever replica
/// a call reaches, and whichever replica expires it releases it once.
/// </summary>
/// <remarks>
/// Layout (all keys carry the prefix as hash tag, so they share one Redis Cluster slot): a hash per session
/// (<c>{prefix}:session:&lt;id&gt;</c>, field <c>r</c> the record as JSON, field <c>t</c> the last activity in UTC ticks,
/// kept apart so a touch writes a number, not the record) and a set of session ids (<c>{prefix}:sessions</c>) to
/// enumerate without <c>SCAN</c>ning the whole database. Claim, touch and remove are Lua scripts, atomic in Redis.
/// </remarks>
internal sealed partial class RedisSessionStore : ISessionStore, IAsyncDisposable
{
    private const string RecordField = "r";
    private const string LastActivityField = "t";
    private const int ListBatchSize = 256;

    // First writer wins: HSETNX on the record field is the claim. Returns nil when the candidate was stored, else the
    // stored record and last activity.
    private const string ClaimScript = """
        if redis.call('HSETNX', KEYS[1], 'r', ARGV[1]) == 1 then
          redis.call('HSET', KEYS[1], 't', ARGV[2])
          redis.call('SADD', KEYS[2], ARGV[3])
          return false
        end
        return redis.call('HMGET', KEYS[1], 'r', 't')
        """;

    // Forward only. Ticks are compared as decimal strings (length, then text): Lua numbers are doubles and would round
    // 18-digit tick counts.
    private const string TouchScript = """
        local t = redis.call('HGET', KEYS[1], 't')
        if not t then return 0 end
        if string.len(ARGV[1]) > string.len(t) or (string.len(ARGV[1]) == string.len(t) and ARGV[1] > t) then
          redis.call('HSET', KEYS[1], 't', ARGV[1])
        end
        return 1
        """;

    private const string RemoveScript = """
        local v = redis.call('HMGET', KEYS[1], 'r', 't')
        redis.call('DEL', KEYS[1])
        redis.call('SREM', KEYS[2], ARGV[1])
        return v
        """;

    private readonly RedisSessionStoreOptions _options;
    private readonly ILogger<RedisSessionStore> _logger;
    private readonly Lazy<Task<ConnectionMultiplexer>> _connection;
    private readonly string _sessionKeyPrefix;
    private readonly RedisKey _indexKey;

    public RedisSessionStore(IOptions<RedisSessionStoreOptions> options, ILogger<RedisSessionStore> logger)
    {
        _options = options.Value;
        _logger = logger;
        _sessionKeyPrefix = "{" + _options.KeyPrefix + "}:session:";
        _indexKey = "{" + _options.KeyPrefix + "}:sessions";
        _connection = new Lazy<Task<ConnectionMultiplexer>>(ConnectAsync, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public async ValueTask<SessionClaim> ClaimAsync(SessionRecord candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var database = await DatabaseAsync(cancellationToken);
        var result = await database.ScriptEvaluateAsync(
            ClaimScript,
            [SessionKey(candidate.SessionId), _indexKey],
            [Serialize(candidate), Ticks(candidate.LastActivity), candidate.SessionId]);
        return result.IsNull
            ? new SessionClaim(candidate, IsNew: true)
            : new SessionClaim(Read((RedisValue[])result!) ?? throw Corrupt(candidate.SessionId), IsNew: false);
    }

    public async ValueTask<SessionRecord?> GetAsync(string sessionId, CancellationToken cancellationToken)
    {
        var database = await DatabaseAsync(cancellationToken);
        return Read(await database.HashGetAsync(SessionKey(sessionId), [RecordField, LastActivityField]));
    }

    public async ValueTask TouchAsync(string sessionId, DateTimeOffset timestamp, CancellationToken cancellationToken)
    {
        var database = await DatabaseAsync(cancellationToken);
        await database.ScriptEvaluateAsync(TouchScript, [SessionKey(sessionId)], [Ticks(timestamp)]);
    }

    public async ValueTask<SessionRecord?> RemoveAsync(string sessionId, CancellationToken cancellationToken)
    {
        var database = await DatabaseAsync(cancellationToken);
        var result = await database.ScriptEvaluateAsync(RemoveScript, [SessionKey(sessionId), _indexKey], [sessionId]);
        return Read((RedisValue[])result!);
    }

    public async IAsyncEnumerable<SessionRecord> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var database = await DatabaseAsync(cancellationToken);
        var batch = new List<RedisValue>(ListBatchSize);
        await foreach (var id in database.SetScanAsync(_indexKey, pageSize: ListBatchSize).WithCancellation(cancellationToken))
        {
            batch.Add(id);
            if (batch.Count == ListBatchSize)
            {
                foreach (var session in await ReadBatchAsync(database, batch))
                {
                    yield return session;
                }

                batch.Clear();
            }
        }

        foreach (var session in await ReadBatchAsync(database, batch))
        {
            yield return session;
        }
    }

    /// <summary>A round trip to Redis, for the health check; throws when Redis cannot be reached.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken)
    {
        var database = await DatabaseAsync(cancellationToken);
        return await database.PingAsync().WaitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully)
        {
            await _connection.Value.Result.DisposeAsync();
        }
    }

    private async Task<List<SessionRecord>> ReadBatchAsync(IDatabase database, List<RedisValue> ids)
    {
        var reads = ids.Select(id => database.HashGetAsync(SessionKey(id.ToString()), [RecordField, LastActivityField])).ToArray();
        await Task.WhenAll(reads);
        var sessions = new List<SessionRecord>(ids.Count);
        for (var i = 0; i < ids.Count; i++)
        {
            if (Read(reads[i].Result) is { } session)
            {
                sessions.Add(session);
            }
            else
            {
                // Listed but gone (deleted by hand, or removed between the scan and the read): drop it from the index.
                await database.SetRemoveAsync(_indexKey, ids[i]);
            }
        }

        return sessions;
    }

    private async ValueTask<IDatabase> DatabaseAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var connection = await _connection.Value.WaitAsync(cancellationToken);
        return connection.GetDatabase(_options.Database);
    }

    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var configuration = ConfigurationOptions.Parse(_options.Configuration!);

        // Start (and keep running) while Redis is away; calls meanwhile fail and reach clients as UNAVAILABLE.
        configuration.AbortOnConnectFail = false;
        configuration.ClientName ??= "sparkconnect-gateway";
        var connection = await ConnectionMultiplexer.ConnectAsync(configuration);
        connection.ConnectionFailed += (_, e) => ConnectionFailed(_logger, e.EndPoint?.ToString() ?? "?", e.FailureType.ToString(), e.Exception);
        connection.ConnectionRestored += (_, e) => ConnectionRestored(_logger, e.EndPoint?.ToString() ?? "?");
        if (!connection.IsConnected)
        {
            NotConnectedAtStart(_logger, configuration.ToString(includePassword: false));
        }

        return connection;
    }

    private RedisKey SessionKey(string sessionId) => _sessionKeyPrefix + sessionId;

    private static string Ticks(DateTimeOffset timestamp) => timestamp.UtcTicks.ToString(CultureInfo.InvariantCulture);

    private static RedisValue Serialize(SessionRecord session)
        => JsonSerializer.Serialize(StoredSession.From(session), StoredSessionJson.Default.StoredSession);

    /// <summary>A session from its record and last-activity fields; null when the record field is missing.</summary>
    private static SessionRecord? Read(RedisValue[]? fields)
    {
        if (fields is not [var record, var lastActivity] || record.IsNull)
        {
            return null;
        }

        var stored = JsonSerializer.Deserialize((string)record!, StoredSessionJson.Default.StoredSession)
            ?? throw new InvalidOperationException("A session record in Redis is the JSON null.");
        var session = stored.ToRecord();
        return lastActivity.IsNull
            ? session
            : session with { LastActivity = new DateTimeOffset(long.Parse((string)lastActivity!, CultureInfo.InvariantCulture), TimeSpan.Zero) };
    }

    private static InvalidOperationException Corrupt(string sessionId)
        => new($"Session {sessionId} exists in Redis without its record field; delete the key or fix it by hand.");

    [LoggerMessage(1, LogLevel.Warning, "Redis connection to {EndPoint} failed ({FailureType}); session store calls fail until it is restored")]
    private static partial void ConnectionFailed(ILogger logger, string endPoint, string failureType, Exception? exception);

    [LoggerMessage(2, LogLevel.Information, "Redis connection to {EndPoint} restored")]
    private static partial void ConnectionRestored(ILogger logger, string endPoint);

    [LoggerMessage(3, LogLevel.Warning, "Redis ({Configuration}) is not reachable at start-up; the session store keeps trying")]
    private static partial void NotConnectedAtStart(ILogger logger, string configuration);
}
