using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Authenticators;

/// <summary>
/// Counts failed authentications in fixed windows, per claimed user and client address and per address. Over a
/// limit, calls are refused before any authenticator runs, so a password-guessing client cannot load the directory
/// behind LDAP or a JWKS endpoint — while the other users behind the same address (a NAT, a load balancer) keep
/// working until the much higher address-wide ceiling.
/// </summary>
internal sealed class AuthenticationThrottle(IOptionsMonitor<SparkConnectGatewayOptions> options, TimeProvider time)
{
    /// <summary>
    /// The most windows kept. Expired windows are swept at most once per window length; past this many live ones,
    /// new keys are not tracked (the address-wide windows already held still apply), so memory stays bounded
    /// whatever a client sends.
    /// </summary>
    internal const int MaxTrackedKeys = 100_000;

    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);
    private long _nextSweepTimestamp;

    internal int TrackedKeys => _windows.Count;

    /// <summary>Whether the address as a whole is over its ceiling now.</summary>
    public bool IsAddressThrottled(IPAddress? peer, out TimeSpan retryAfter, out bool firstRefusal)
    {
        var throttle = options.CurrentValue.Authentication.Throttle;
        return IsThrottled(AddressKey(peer), throttle.MaxFailuresPerAddress, throttle.Window, out retryAfter, out firstRefusal);
    }

    /// <summary>Whether this claimed user from this address is over its limit now.</summary>
    public bool IsUserThrottled(IPAddress? peer, string claimedUser, out TimeSpan retryAfter, out bool firstRefusal)
    {
        var throttle = options.CurrentValue.Authentication.Throttle;
        return IsThrottled(UserKey(peer, claimedUser), throttle.MaxFailures, throttle.Window, out retryAfter, out firstRefusal);
    }

    /// <summary>Counts one refused credential: for the address, and for the claimed user when one was read.</summary>
    public void RecordFailure(IPAddress? peer, string? claimedUser)
    {
        var throttle = options.CurrentValue.Authentication.Throttle;
        if (peer is null)
        {
            return;
        }

        var now = time.GetUtcNow();
        SweepIfDue(now, throttle.Window);
        if (throttle.MaxFailuresPerAddress > 0)
        {
            Count(AddressKey(peer)!, now, throttle.Window);
        }

        if (throttle.MaxFailures > 0 && claimedUser is not null)
        {
            Count(UserKey(peer, claimedUser)!, now, throttle.Window);
        }
    }

    private bool IsThrottled(string? key, int limit, TimeSpan length, out TimeSpan retryAfter, out bool firstRefusal)
    {
        retryAfter = TimeSpan.Zero;
        firstRefusal = false;
        if (limit <= 0 || key is null || !_windows.TryGetValue(key, out var window))
        {
            return false;
        }

        lock (window)
        {
            var now = time.GetUtcNow();
            if (now - window.Start >= length || window.Failures < limit)
            {
                return false;
            }

            retryAfter = window.Start + length - now;
            firstRefusal = !window.Reported;
            window.Reported = true;
            return true;
        }
    }

    private void Count(string key, DateTimeOffset now, TimeSpan length)
    {
        if (!_windows.TryGetValue(key, out var window))
        {
            if (_windows.Count >= MaxTrackedKeys)
            {
                return;
            }

            window = _windows.GetOrAdd(key, _ => new Window(now));
        }

        lock (window)
        {
            if (now - window.Start >= length)
            {
                window.Start = now;
                window.Failures = 0;
                window.Reported = false;
            }

            window.Failures++;
        }
    }

    private void SweepIfDue(DateTimeOffset now, TimeSpan length)
    {
        var due = Interlocked.Read(ref _nextSweepTimestamp);
        if (now.UtcTicks < due || Interlocked.CompareExchange(ref _nextSweepTimestamp, now.UtcTicks + length.Ticks, due) != due)
        {
            return;
        }

        foreach (var (key, window) in _windows)
        {
            if (now - window.Start >= length)
            {
                _windows.TryRemove(key, out _);
            }
        }
    }

    private static string? AddressKey(IPAddress? peer) => peer?.ToString();

    // The user part is the claimed name as sent: spellings an authenticator treats as one user are one user only
    // after it has decided, and a guesser trying spellings is still bounded by the address-wide ceiling.
    private static string? UserKey(IPAddress? peer, string claimedUser) => peer is null ? null : peer + "\n" + claimedUser;

    private sealed class Window(DateTimeOffset start)
    {
        public DateTimeOffset Start { get; set; } = start;

        public int Failures { get; set; }

        public bool Reported { get; set; }
    }
}
