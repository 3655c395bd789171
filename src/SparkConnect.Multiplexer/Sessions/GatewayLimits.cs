using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Sessions;

/// <summary>
/// Deny lists and per-user / per-address limits, counted in this gateway instance. Refusals are PERMISSION_DENIED
/// or RESOURCE_EXHAUSTED: never UNAVAILABLE, which Spark clients would retry for minutes.
/// </summary>
internal sealed class GatewayLimits(IOptionsMonitor<SparkConnectGatewayOptions> options)
{
    private readonly ConcurrentDictionary<string, int> _sessions = new(StringComparer.Ordinal);
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

    /// <summary>Counts a session about to open; undo with <see cref="SessionClosed"/>.</summary>
    /// <exception cref="GatewayException">RESOURCE_EXHAUSTED over a session limit.</exception>
    public void OpenSession(string user, string? address)
    {
        var limits = options.CurrentValue.Limits;
        var opened = new List<string>(3);
        try
        {
            Take(_sessions, "u:" + user, limits.MaxSessionsPerUser, (user, address), static (s, max) => $"User '{s.user}' has the most sessions allowed ({max}); release a session (spark.stop()) and retry.", opened);
            if (address is not null)
            {
                Take(_sessions, "a:" + address, limits.MaxSessionsPerClientAddress, (user, address), static (s, max) => $"Client address {s.address} has the most sessions allowed ({max}); release a session and retry.", opened);
                Take(_sessions, "ua:" + user + "@" + address, limits.MaxSessionsPerUserAndAddress, (user, address), static (s, max) => $"User '{s.user}' from {s.address} has the most sessions allowed ({max}); release a session and retry.", opened);
            }
        }
        catch
        {
            foreach (var key in opened)
            {
                Release(_sessions, key);
            }

            throw;
        }
    }

    public void SessionClosed(string user, string? address)
    {
        Release(_sessions, "u:" + user);
        if (address is not null)
        {
            Release(_sessions, "a:" + address);
            Release(_sessions, "ua:" + user + "@" + address);
        }
    }

    /// <summary>
    /// How long a client over the execution limit is told to wait (google.rpc.RetryInfo): running queries end, so
    /// waiting cures it, and Spark clients honour the delay instead of failing the query. Session limits and deny
    /// lists carry no delay: waiting does not cure them.
    /// </summary>
    internal static readonly TimeSpan ExecutionRetryAfter = TimeSpan.FromSeconds(5);

    /// <summary>Counts a running execution until the returned lease is disposed.</summary>
    /// <exception cref="GatewayException">RESOURCE_EXHAUSTED over the execution limit.</exception>
    public IDisposable StartExecution(string user)
    {
        var max = options.CurrentValue.Limits.MaxConcurrentExecutionsPerUser;
        var key = user;
        Take(_executions, key, max, user, static (u, m) => $"User '{u}' has the most running executions allowed ({m}); wait for one to finish or interrupt it.", null, ExecutionRetryAfter);
        return new Lease(this, key);
    }

    /// <summary>Counts one more for <paramref name="key"/>; the refusal message is only formatted when it is sent.</summary>
    private static void Take<TState>(ConcurrentDictionary<string, int> counts, string key, int max, TState state, Func<TState, int, string> refusal, List<string>? taken, TimeSpan? retryAfter = null)
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
                taken?.Add(key);
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
