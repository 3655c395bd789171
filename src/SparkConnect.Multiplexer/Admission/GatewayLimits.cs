using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Internal;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Admission;

/// <summary>
/// Deny lists and per-user / per-address limits, counted in this gateway instance (the sessions it opened that still
/// exist in the store). Refusals are PERMISSION_DENIED
/// or RESOURCE_EXHAUSTED: never UNAVAILABLE, which Spark clients would retry for minutes.
/// </summary>
internal sealed class GatewayLimits(IOptionsMonitor<SparkConnectGatewayOptions> options, ISessionStore store, ILogger<GatewayLimits> logger, ISharedLimits? shared = null)
{
    // Sessions this instance opened, by id and by limit key ("u:alice", "a:10.0.0.1", "ua:alice@10.0.0.1"): the count
    // of a key is the sessions that hold a slot, so a slot is freed by the session's id whichever way it goes.
    private readonly Lock _sessionsLock = new();
    private readonly Dictionary<string, CountedSession> _counted = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _sessionsByKey = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _executions = new(StringComparer.Ordinal);
    private ParsedDenyList? _deniedNetworks;

    /// <exception cref="GatewayException">PERMISSION_DENIED for a denied user or address.</exception>
    public void Admit(GatewayPrincipal principal, IPAddress? peer)
    {
        var limits = options.CurrentValue.Limits;
        if (limits.DeniedUsers.Contains(principal.UserName, StringComparer.Ordinal))
        {
            throw new GatewayException(StatusCode.PermissionDenied, $"User '{principal.UserName}' is not allowed to use this gateway.");
        }

        if (peer is not null && limits.DeniedClientAddresses.Count > 0)
        {
            var address = peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4() : peer;
            foreach (var network in DeniedNetworks(limits))
            {
                if (network.Contains(address))
                {
                    throw new GatewayException(StatusCode.PermissionDenied, $"Client address {address} is not allowed to use this gateway.");
                }
            }
        }
    }

    /// <summary>The deny-list as networks, parsed once per configuration (a single address is a /32 or /128).</summary>
    private IPNetwork[] DeniedNetworks(GatewayLimitOptions limits)
    {
        var parsed = Volatile.Read(ref _deniedNetworks);
        if (parsed is null || !ReferenceEquals(parsed.Source, limits))
        {
            var networks = limits.DeniedClientAddresses
                .Select(d => IPNetwork.TryParse(d, out var network) ? network
                    : IPAddress.TryParse(d, out var single) ? new IPNetwork(single, single.GetAddressBytes().Length * 8)
                    : (IPNetwork?)null)
                .OfType<IPNetwork>()
                .ToArray();
            parsed = new ParsedDenyList(limits, networks);
            Volatile.Write(ref _deniedNetworks, parsed);
        }

        return parsed.Networks;
    }

    private sealed record ParsedDenyList(GatewayLimitOptions Source, IPNetwork[] Networks);

    /// <summary>
    /// Counts session <paramref name="sessionId"/>, about to be claimed; confirm it with <see cref="SessionClaimed"/>
    /// once claimed, undo with <see cref="SessionClosed"/>. At a limit, the sessions counted against it are first
    /// checked against the store: one released or expired through another gateway instance, or lost by the store,
    /// no longer holds a slot here.
    /// </summary>
    /// <returns>False when a concurrent call already counts this session id (the caller then must not undo it).</returns>
    /// <exception cref="GatewayException">RESOURCE_EXHAUSTED over a session limit.</exception>
    public async ValueTask<bool> OpenSessionAsync(string sessionId, GatewayPrincipal principal, string? address, CancellationToken cancellationToken)
    {
        var limits = options.CurrentValue.Limits;
        var user = principal.UserName;
        var keys = ISharedLimits.SessionKeysOf(user, address);
        var maxima = new[] { UserLimits.For(limits, principal).MaxSessions, limits.MaxSessionsPerClientAddress, limits.MaxSessionsPerUserAndAddress };
        if (shared is { IsEnabled: true } && (maxima[0] > 0 || maxima[1] > 0 || maxima[2] > 0))
        {
            await CheckSharedSessionCountsAsync(keys, maxima, user, address, cancellationToken);
        }

        for (var attempt = 0; ; attempt++)
        {
            List<(string SessionId, string Owner)>? toVerify = null;
            var full = -1;
            lock (_sessionsLock)
            {
                if (_counted.ContainsKey(sessionId))
                {
                    return false;
                }

                for (var i = 0; i < keys.Length; i++)
                {
                    if (maxima[i] > 0 && _sessionsByKey.TryGetValue(keys[i], out var counted) && counted.Count >= maxima[i])
                    {
                        full = i;
                        toVerify = attempt == 0 ? ClaimedSessions(counted) : null;
                        break;
                    }
                }

                if (full < 0)
                {
                    _counted.Add(sessionId, new CountedSession(user, keys));
                    foreach (var key in keys)
                    {
                        if (!_sessionsByKey.TryGetValue(key, out var set))
                        {
                            _sessionsByKey[key] = set = new HashSet<string>(StringComparer.Ordinal);
                        }

                        set.Add(sessionId);
                    }

                    return true;
                }
            }

            if (toVerify is null || toVerify.Count == 0 || !await UncountVanishedAsync(toVerify, cancellationToken))
            {
                throw SessionLimitRefusal(full, maxima[full], user, address);
            }
        }
    }

    /// <summary>
    /// With limits shared across instances, the sessions the store holds for each key, whoever opened them. Checked
    /// before this instance's own count (which still guards its concurrent claims); two instances opening a user's
    /// last allowed session at the same moment may both pass, so a shared limit can be exceeded by the number of
    /// instances racing, never more.
    /// </summary>
    private async ValueTask CheckSharedSessionCountsAsync(string[] keys, int[] maxima, string user, string? address, CancellationToken cancellationToken)
    {
        long[] counts;
        try
        {
            counts = await shared!.CountSessionsAsync(keys, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The store is out of reach: the claim that follows fails with UNAVAILABLE, and this instance's count stands meanwhile.
            return;
        }

        for (var i = 0; i < keys.Length && i < counts.Length; i++)
        {
            if (maxima[i] > 0 && counts[i] >= maxima[i])
            {
                throw SessionLimitRefusal(i, maxima[i], user, address);
            }
        }
    }

    private static GatewayException SessionLimitRefusal(int limit, int max, string user, string? address) => new(StatusCode.ResourceExhausted, limit switch
    {
        0 => $"User '{user}' has the most sessions allowed ({max}); release a session (spark.stop()) and retry.",
        1 => $"Client address {address} has the most sessions allowed ({max}); release a session and retry.",
        _ => $"User '{user}' from {address} has the most sessions allowed ({max}); release a session and retry.",
    });

    /// <summary>The session is in the store now: from here on a check at the limit may find it gone.</summary>
    public void SessionClaimed(string sessionId)
    {
        lock (_sessionsLock)
        {
            if (_counted.TryGetValue(sessionId, out var counted))
            {
                counted.Claimed = true;
            }
        }
    }

    /// <summary>Frees the slots of a session this instance counted; does nothing for one it did not.</summary>
    public void SessionClosed(string sessionId)
    {
        lock (_sessionsLock)
        {
            if (!_counted.Remove(sessionId, out var counted))
            {
                return;
            }

            foreach (var key in counted.Keys)
            {
                if (_sessionsByKey.TryGetValue(key, out var set) && set.Remove(sessionId) && set.Count == 0)
                {
                    _sessionsByKey.Remove(key);
                }
            }
        }
    }

    /// <summary>How many sessions this instance counts for a user (for tests and diagnostics).</summary>
    internal int SessionsCountedFor(string user)
    {
        lock (_sessionsLock)
        {
            return _sessionsByKey.TryGetValue("u:" + user, out var set) ? set.Count : 0;
        }
    }

    /// <summary>Claimed sessions of a full limit; those still being claimed are left out (the store does not have them yet).</summary>
    private List<(string SessionId, string Owner)> ClaimedSessions(HashSet<string> sessionIds)
    {
        var claimed = new List<(string, string)>(sessionIds.Count);
        foreach (var id in sessionIds)
        {
            var counted = _counted[id];
            if (counted.Claimed)
            {
                claimed.Add((id, counted.Owner));
            }
        }

        return claimed;
    }

    /// <summary>
    /// Looks the sessions up in the store, all at once; only a refused call pays for it (at most the limit's number of
    /// look-ups, and the call rate limits bound how often).
    /// </summary>
    /// <returns>Whether any counted session had vanished from the store (and was uncounted).</returns>
    private async ValueTask<bool> UncountVanishedAsync(List<(string SessionId, string Owner)> candidates, CancellationToken cancellationToken)
    {
        SessionRecord?[] stored;
        try
        {
            stored = await Task.WhenAll(candidates.Select(c => store.GetAsync(c.SessionId, cancellationToken).AsTask()));
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The store cannot say: the counts stand, and the limit refuses as it would have.
            return false;
        }

        var any = false;
        for (var i = 0; i < candidates.Count; i++)
        {
            // Gone, or the id now belongs to someone else (the store lost it and another user claimed it afresh).
            var (sessionId, owner) = candidates[i];
            if (stored[i] is not { } session || !string.Equals(session.Owner, owner, StringComparison.Ordinal))
            {
                SessionClosed(sessionId);
                GatewayLog.SessionUncounted(logger, sessionId, owner);
                any = true;
            }
        }

        return any;
    }

    private sealed class CountedSession(string owner, string[] keys)
    {
        public string Owner { get; } = owner;

        public string[] Keys { get; } = keys;

        public bool Claimed { get; set; }
    }

    /// <summary>
    /// How long a client over the execution limit is told to wait (google.rpc.RetryInfo): running queries end, so
    /// waiting cures it, and Spark clients honour the delay instead of failing the query. Session limits and deny
    /// lists carry no delay: waiting does not cure them.
    /// </summary>
    internal static readonly TimeSpan ExecutionRetryAfter = TimeSpan.FromSeconds(5);

    /// <summary>Counts a running execution until the returned lease is disposed.</summary>
    /// <exception cref="GatewayException">RESOURCE_EXHAUSTED over the execution limit.</exception>
    public IDisposable StartExecution(GatewayPrincipal principal)
    {
        var max = UserLimits.For(options.CurrentValue.Limits, principal).MaxConcurrentExecutions;
        var user = principal.UserName;
        var key = user;
        Take(_executions, key, max, user, static (u, m) => $"User '{u}' has the most running executions allowed ({m}); wait for one to finish or interrupt it.", ExecutionRetryAfter);
        return new Lease(this, key);
    }

    /// <summary>Counts one more for <paramref name="key"/>; the refusal message is only formatted when it is sent.</summary>
    private static void Take<TState>(ConcurrentDictionary<string, int> counts, string key, int max, TState state, Func<TState, int, string> refusal, TimeSpan retryAfter)
    {
        while (true)
        {
            var current = counts.GetValueOrDefault(key);
            if (max > 0 && current >= max)
            {
                throw new GatewayException(StatusCode.ResourceExhausted, refusal(state, max)) { RetryAfter = retryAfter };
            }

            if (current == 0 ? counts.TryAdd(key, 1) : counts.TryUpdate(key, current + 1, current))
            {
                return;
            }
        }
    }

    private static void Release(ConcurrentDictionary<string, int> counts, string key)
    {
        while (counts.TryGetValue(key, out var current))
        {
            if (current <= 1 ? counts.TryRemove(new KeyValuePair<string, int>(key, current)) : counts.TryUpdate(key, current - 1, current))
            {
                return;
            }
        }
    }

    private sealed class Lease(GatewayLimits owner, string key) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Release(owner._executions, key);
            }
        }
    }
}
