using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Redis.Internal;
using StackExchange.Redis;

namespace SparkConnect.Multiplexer.Redis.Sessions;

/// <summary>
/// The store's connection to Redis, and what the gateway knows about its state: whether Redis is reachable, and the
/// epoch of the data it holds.
/// </summary>
/// <remarks>
/// <para>
/// Reachability: once Redis is known to be out of reach (the connection failed, or a command failed or timed out),
/// every store call fails at once instead of waiting for the client library's timeout (seconds per call, per health
/// check and per stream end), and a background probe PINGs Redis until it answers again. Commands are not queued
/// while disconnected (<see cref="BacklogPolicy.FailFast"/>): a call that cannot reach Redis now should say so now,
/// and the client retries UNAVAILABLE.
/// </para>
/// <para>
/// Epoch: a random value under <c>{prefix}:epoch</c>, written once if absent and remembered. Redis that lost its
/// data (FLUSHALL, a restart without persistence, a failover to an empty replica) has lost the epoch too, so the next
/// check finds it missing or different. That is an incident: every session's owner is forgotten, and a session's next
/// caller claims it afresh.
/// </para>
/// </remarks>
internal sealed class RedisStoreConnection : IAsyncDisposable
{
    /// <summary>How often an unreachable Redis is probed.</summary>
    internal static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(1);

    // Writes the epoch if absent and returns the stored one: one round trip.
    private const string EpochScript = """
        redis.call('SET', KEYS[1], ARGV[1], 'NX')
        return redis.call('GET', KEYS[1])
        """;

    private readonly RedisSessionStoreOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lazy<Task<ConnectionMultiplexer>> _connection;
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _lock = new();
    private Outage? _outage;
    private Task? _probe;
    private string? _epoch;
    private DateTimeOffset? _stateLostAt;
    private int _disposeStarted;

    public RedisStoreConnection(RedisSessionStoreOptions options, ILogger logger, TimeProvider time)
    {
        _options = options;
        _logger = logger;
        _time = time;
        EpochKey = "{" + options.KeyPrefix + "}:epoch";
        _connection = new Lazy<Task<ConnectionMultiplexer>>(ConnectAsync, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public RedisKey EpochKey { get; }

    /// <summary>The current outage, or null while Redis is reachable (as far as the gateway knows).</summary>
    public Outage? CurrentOutage => Volatile.Read(ref _outage);

    /// <summary>When this instance last found that Redis had lost its state, if it has.</summary>
    public DateTimeOffset? StateLostAt
    {
        get
        {
            lock (_lock)
            {
                return _stateLostAt;
            }
        }
    }

    /// <summary>The database, at once; throws <see cref="RedisConnectionException"/> at once while Redis is known to be out of reach.</summary>
    public async ValueTask<IDatabase> DatabaseAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfKnownDown();
        var connection = await _connection.Value.WaitAsync(cancellationToken);
        ThrowIfKnownDown();
        return connection.GetDatabase(_options.Database);
    }

    /// <summary>Runs a command; a connection failure or a timeout marks Redis out of reach and starts the probe.</summary>
    public async Task<T> RunAsync<T>(Func<IDatabase, Task<T>> command, CancellationToken cancellationToken)
    {
        var database = await DatabaseAsync(cancellationToken);
        try
        {
            return await command(database).WaitAsync(cancellationToken);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException or TimeoutException)
        {
            MarkDown(e);
            throw;
        }
    }

    /// <summary>
    /// Checks (and on first contact, learns) the epoch; a missing or different one is logged as an incident and
    /// adopted. One round trip, so it also serves as the health check's probe.
    /// </summary>
    public Task CheckEpochAsync(CancellationToken cancellationToken)
        => RunAsync(async database => ObserveEpoch((string?)await database.ScriptEvaluateAsync(EpochScript, [EpochKey], [NewEpoch()])), cancellationToken);

    /// <summary>A fresh epoch value, for a store found without one.</summary>
    public static string NewEpoch() => Guid.NewGuid().ToString("N");

    /// <summary>Takes note of the epoch Redis holds; a change from the one known is an incident.</summary>
    /// <returns>True when the store lost its state since this instance last saw it.</returns>
    public bool ObserveEpoch(string? stored)
    {
        if (string.IsNullOrEmpty(stored))
        {
            return false;
        }

        var known = Interlocked.Exchange(ref _epoch, stored);
        if (known is null || string.Equals(known, stored, StringComparison.Ordinal))
        {
            return false;
        }

        lock (_lock)
        {
            _stateLostAt = _time.GetUtcNow();
        }

        RedisLog.StateLost(_logger, _options.KeyPrefix, known, stored);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        // Once: the container disposes the store both as the session store and as the shared limits.
        if (Interlocked.Exchange(ref _disposeStarted, 1) == 1)
        {
            return;
        }

        await _disposed.CancelAsync();
        if (Volatile.Read(ref _probe) is { } probe)
        {
            await probe.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (_connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully)
        {
            await _connection.Value.Result.DisposeAsync();
        }

        _disposed.Dispose();
    }

    private void ThrowIfKnownDown()
    {
        if (Volatile.Read(ref _outage) is { } outage)
        {
            // Short on purpose: the cause was logged once when the outage began.
            throw new RedisConnectionException(outage.FailureType, CommandFlags.None, string.Create(CultureInfo.InvariantCulture, $"Redis has failed the gateway since {outage.Since:u} ({outage.Reason}); the gateway probes it every {ProbeInterval.TotalSeconds:0} s."), null, CommandStatus.Unknown);
        }
    }

    private void MarkDown(Exception e) => MarkDown(FailureOf(e), e);

    private void MarkDown(ConnectionFailureType failure, Exception? e)
    {
        var kind = Classify(failure, e);
        var reason = kind switch
        {
            FailureKind.Credentials => "authentication failed",
            FailureKind.Tls => "TLS handshake failed",
            _ => e is RedisTimeoutException or TimeoutException ? "a command timed out" : failure.ToString(),
        };
        lock (_lock)
        {
            if (_outage is not null || _disposed.IsCancellationRequested)
            {
                return;
            }

            Volatile.Write(ref _outage, new Outage(_time.GetUtcNow(), failure, reason));
            _probe = Task.Run(ProbeAsync);
        }

        switch (kind)
        {
            case FailureKind.Credentials:
                RedisLog.AuthenticationFailed(_logger, Endpoints(), e);
                break;
            case FailureKind.Tls:
                RedisLog.TlsFailed(_logger, Endpoints(), Innermost(e)?.Message ?? "?", e);
                break;
            default:
                RedisLog.Unreachable(_logger, Endpoints(), reason, e);
                break;
        }
    }

    private async Task ProbeAsync()
    {
        var stopping = _disposed.Token;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(ProbeInterval, _time, stopping);
                var connection = await _connection.Value.WaitAsync(stopping);
                var database = connection.GetDatabase(_options.Database);
                ObserveEpoch((string?)await database.ScriptEvaluateAsync(EpochScript, [EpochKey], [NewEpoch()]).WaitAsync(stopping));
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                continue;
            }

            Outage? ended;
            lock (_lock)
            {
                ended = _outage;
                Volatile.Write(ref _outage, null);
                _probe = null;
            }

            if (ended is not null)
            {
                RedisLog.Reachable(_logger, Endpoints(), _time.GetUtcNow() - ended.Since);
            }

            return;
        }
    }

    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var configuration = ConfigurationOptions.Parse(_options.Configuration!);

        // Start (and keep running) while Redis is away; calls meanwhile fail at once and reach clients as UNAVAILABLE.
        configuration.AbortOnConnectFail = false;
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.ClientName ??= "sparkconnect-gateway";
        if (!string.IsNullOrEmpty(_options.CertificateAuthorityPath))
        {
            configuration.TrustIssuer(_options.CertificateAuthorityPath);
        }

        var connection = await ConnectionMultiplexer.ConnectAsync(configuration);
        connection.ConnectionFailed += (_, e) =>
        {
            // The subscription connection is not used; the interactive one carries every command.
            if (e.ConnectionType == ConnectionType.Interactive)
            {
                MarkDown(e.FailureType, e.Exception);
            }
        };

        if (connection.IsConnected)
        {
            try
            {
                ObserveEpoch((string?)await connection.GetDatabase(_options.Database).ScriptEvaluateAsync(EpochScript, [EpochKey], [NewEpoch()]));
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                MarkDown(e);
            }
        }
        else
        {
            // Why it is not connected decides what to tell the operator: a wrong password is not an outage.
            try
            {
                await connection.GetDatabase(_options.Database).PingAsync();
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                MarkDown(e);
            }
        }

        return connection;
    }

    private string Endpoints()
    {
        try
        {
            return string.Join(",", ConfigurationOptions.Parse(_options.Configuration!).EndPoints.Select(e => e.ToString()));
        }
        catch (ArgumentException)
        {
            return "?";
        }
    }

    /// <summary>The most telling failure type in an exception chain (the library wraps the cause of a failed command).</summary>
    private static ConnectionFailureType FailureOf(Exception e)
    {
        var found = ConnectionFailureType.UnableToConnect;
        for (var current = e; current is not null; current = current.InnerException)
        {
            if (current is RedisConnectionException connection)
            {
                if (connection.FailureType == ConnectionFailureType.AuthenticationFailure)
                {
                    return connection.FailureType;
                }

                found = connection.FailureType;
            }
            else if (current is RedisTimeoutException or TimeoutException)
            {
                found = ConnectionFailureType.UnableToConnect;
            }
        }

        return found;
    }

    /// <summary>
    /// What an operator must fix. The library reports a refused password and a refused TLS certificate alike as
    /// <see cref="ConnectionFailureType.AuthenticationFailure"/>; the TLS one carries the handshake's own exception.
    /// </summary>
    private static FailureKind Classify(ConnectionFailureType failure, Exception? e)
    {
        for (var current = e; current is not null; current = current.InnerException)
        {
            if (current is System.Security.Authentication.AuthenticationException)
            {
                return FailureKind.Tls;
            }
        }

        return failure == ConnectionFailureType.AuthenticationFailure ? FailureKind.Credentials : FailureKind.Unreachable;
    }

    private static Exception? Innermost(Exception? e)
    {
        while (e?.InnerException is not null)
        {
            e = e.InnerException;
        }

        return e;
    }

    private enum FailureKind
    {
        Unreachable,
        Credentials,
        Tls,
    }

    /// <summary>An outage as the gateway knows it.</summary>
    public sealed record Outage(DateTimeOffset Since, ConnectionFailureType FailureType, string Reason);
}
