using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Admission;
using SparkConnect.Multiplexer.Redis.Internal;
using SparkConnect.Multiplexer.Sessions;
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
/// The epoch (<c>{prefix}:epoch</c>, see <see cref="RedisStoreConnection"/>) is checked by every claim.
/// </remarks>
internal sealed class RedisSessionStore : ISessionStore, ISharedLimits, IAsyncDisposable
{
    private const string RecordField = "r";
    private const string LastActivityField = "t";
    private const int ListBatchSize = 256;

    // First writer wins: HSETNX on the record field is the claim. The epoch (KEYS[3]) is read in the same step, so the
    // gateway compares it with the one it knows: Redis that lost its data lost the epoch too, and is given a fresh one
    // (ARGV[4]). With shared limits, ARGV[5] is the session's limit keys (newline-separated) and ARGV[6] the prefix of
    // their sets: the session joins each set, and the keys are kept in field 'k' for the removal. Returns {epoch},
    // plus the stored record and last activity when a session existed.
    private const string ClaimScript = """
        local e = redis.call('GET', KEYS[3])
        if not e then
          redis.call('SET', KEYS[3], ARGV[4])
          e = ARGV[4]
        end
        if redis.call('HSETNX', KEYS[1], 'r', ARGV[1]) == 1 then
          redis.call('HSET', KEYS[1], 't', ARGV[2])
          redis.call('SADD', KEYS[2], ARGV[3])
          if ARGV[5] ~= '' then
            redis.call('HSET', KEYS[1], 'k', ARGV[5])
            for k in string.gmatch(ARGV[5], '[^\n]+') do
              redis.call('SADD', ARGV[6] .. k, ARGV[3])
            end
          end
          return {e}
        end
        local v = redis.call('HMGET', KEYS[1], 'r', 't')
        return {e, v[1], v[2]}
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

    // The limit sets are named from field 'k' and ARGV[2] rather than declared as keys: they carry the same hash tag,
    // so they sit in the session's Redis Cluster slot all the same.
    private const string RemoveScript = """
        local v = redis.call('HMGET', KEYS[1], 'r', 't', 'k')
        redis.call('DEL', KEYS[1])
        redis.call('SREM', KEYS[2], ARGV[1])
        if v[3] then
          for k in string.gmatch(v[3], '[^\n]+') do
            redis.call('SREM', ARGV[2] .. k, ARGV[1])
          end
        end
        return {v[1], v[2]}
        """;

    // A token bucket per key, timed by Redis's own clock so replicas' clocks do not matter. Field 'n' the tokens,
    // 't' the time of the last take in milliseconds. ARGV[1] the rate per second, ARGV[2] the bucket's size. Returns
    // 0 when a token was taken, else the milliseconds until one is there. The key expires once the bucket would be
    // full again: an idle bucket is the same as none.
    private const string TakeCallScript = """
        local now = redis.call('TIME')
        local ms = tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000
        local rate = tonumber(ARGV[1])
        local size = tonumber(ARGV[2])
        local b = redis.call('HMGET', KEYS[1], 'n', 't')
        local tokens = tonumber(b[1])
        local last = tonumber(b[2])
        if not tokens or not last then
          tokens = size
          last = ms
        end
        tokens = math.min(size, tokens + math.max(0, ms - last) * rate / 1000)
        local wait = 0
        if tokens >= 1 then
          tokens = tokens - 1
        else
          wait = math.ceil((1 - tokens) * 1000 / rate)
        end
        redis.call('HSET', KEYS[1], 'n', string.format('%.6f', tokens), 't', string.format('%.3f', ms))
        redis.call('PEXPIRE', KEYS[1], math.ceil((size - tokens) * 1000 / rate) + 1000)
        return wait
        """;

    private readonly RedisSessionStoreOptions _options;
    private readonly IOptionsMonitor<SparkConnectGatewayOptions> _gatewayOptions;
    private readonly ILogger<RedisSessionStore> _logger;
    private readonly TimeProvider _time;
    private readonly RedisStoreConnection _connection;
    private readonly string _sessionKeyPrefix;
    private readonly RedisKey _indexKey;
    private readonly string _limitKeyPrefix;
    private readonly string _rateKeyPrefix;

    public RedisSessionStore(IOptions<RedisSessionStoreOptions> options, IOptionsMonitor<SparkConnectGatewayOptions> gatewayOptions, TimeProvider time, ILogger<RedisSessionStore> logger)
    {
        _options = options.Value;
        _gatewayOptions = gatewayOptions;
        _logger = logger;
        _time = time;
        _sessionKeyPrefix = "{" + _options.KeyPrefix + "}:session:";
        _indexKey = "{" + _options.KeyPrefix + "}:sessions";
        _limitKeyPrefix = "{" + _options.KeyPrefix + "}:limit:";
        _rateKeyPrefix = _options.KeyPrefix + ":rate:";
        _connection = new RedisStoreConnection(_options, logger, time);
    }

    /// <summary>The connection, and what the gateway knows about Redis's reachability and state.</summary>
    internal RedisStoreConnection Connection => _connection;

    public async ValueTask<SessionClaim> ClaimAsync(SessionRecord candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var result = (RedisResult[])(await _connection.RunAsync(
            database => database.ScriptEvaluateAsync(
                ClaimScript,
                [SessionKey(candidate.SessionId), _indexKey, _connection.EpochKey],
                [Serialize(candidate), Ticks(candidate.LastActivity), candidate.SessionId, RedisStoreConnection.NewEpoch(), LimitKeysOf(candidate), _limitKeyPrefix]),
            cancellationToken))!;
        _connection.ObserveEpoch((string?)result[0]);
        if (result.Length == 1)
        {
            NoteClaimAfterStateLoss(candidate);
            return new SessionClaim(candidate, IsNew: true);
        }

        return new SessionClaim(Read([(RedisValue)result[1], (RedisValue)result[2]]) ?? throw Corrupt(candidate.SessionId), IsNew: false);
    }

    public async ValueTask<SessionRecord?> GetAsync(string sessionId, CancellationToken cancellationToken)
    {
        return Read(await _connection.RunAsync(database => database.HashGetAsync(SessionKey(sessionId), [RecordField, LastActivityField]), cancellationToken));
    }

    public async ValueTask TouchAsync(string sessionId, DateTimeOffset timestamp, CancellationToken cancellationToken)
    {
        await _connection.RunAsync(database => database.ScriptEvaluateAsync(TouchScript, [SessionKey(sessionId)], [Ticks(timestamp)]), cancellationToken);
    }

    public async ValueTask<SessionRecord?> RemoveAsync(string sessionId, CancellationToken cancellationToken)
    {
        var result = await _connection.RunAsync(database => database.ScriptEvaluateAsync(RemoveScript, [SessionKey(sessionId), _indexKey], [sessionId, _limitKeyPrefix]), cancellationToken);
        return Read((RedisValue[])result!);
    }

    public async IAsyncEnumerable<SessionRecord> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var database = await _connection.DatabaseAsync(cancellationToken);
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

    public bool IsEnabled => _options.ShareLimits;

    public async ValueTask<TimeSpan?> TryTakeCallAsync(string key, int perSecond, int burst, CancellationToken cancellationToken)
    {
        // Its own hash tag per bucket: buckets spread over a Redis Cluster's slots, unlike the sessions, which a claim
        // updates together.
        var bucket = (RedisKey)("{" + _rateKeyPrefix + key + "}");
        var wait = (long)await _connection.RunAsync(database => database.ScriptEvaluateAsync(TakeCallScript, [bucket], [perSecond, burst > 0 ? burst : perSecond]), cancellationToken);
        return wait <= 0 ? null : TimeSpan.FromMilliseconds(wait);
    }

    public async ValueTask<long[]> CountSessionsAsync(string[] keys, CancellationToken cancellationToken)
    {
        return await _connection.RunAsync(
            async database =>
            {
                var counts = keys.Select(k => database.SetLengthAsync(_limitKeyPrefix + k)).ToArray();
                return await Task.WhenAll(counts);
            },
            cancellationToken);
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    /// <summary>The limit keys the claim files the session under, when limits are shared; else none.</summary>
    private string LimitKeysOf(SessionRecord session)
        => _options.ShareLimits ? string.Join('\n', ISharedLimits.SessionKeysOf(session.Owner, session.ClientAddress)) : "";

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

    /// <summary>
    /// After Redis lost its state, a new claim may be a takeover of a session that was in use: logged apart from an
    /// ordinary session opening, for an idle timeout's worth of time (after which any session from before would
    /// have expired anyway).
    /// </summary>
    private void NoteClaimAfterStateLoss(SessionRecord claimed)
    {
        if (_connection.StateLostAt is not { } lostAt)
        {
            return;
        }

        var idleTimeout = _gatewayOptions.CurrentValue.Sessions.IdleTimeout;
        var window = idleTimeout > TimeSpan.Zero ? idleTimeout : TimeSpan.FromHours(24);
        var since = _time.GetUtcNow() - lostAt;
        if (since < window)
        {
            RedisLog.ClaimedAfterStateLoss(_logger, claimed.SessionId, claimed.Owner, claimed.ClientAddress ?? "-", since);
        }
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
}
