using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Authentication;

/// <summary>
/// Counts failed authentications per client address in fixed windows. Over the limit, calls are refused before any
/// authenticator runs, so a password-guessing client cannot load the directory behind LDAP or a JWKS endpoint.
/// </summary>
internal sealed class AuthenticationThrottle(IOptionsMonitor<SparkConnectGatewayOptions> options, TimeProvider time)
{
    private const int PruneAbove = 10_000;

    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);

    /// <summary>
    /// Whether the address is over its limit now; <paramref name="firstRefusal"/> is true once per window, so the
    /// refusal is logged once and not once per call.
    /// </summary>
    public bool IsThrottled(IPAddress? peer, out TimeSpan retryAfter, out bool firstRefusal)
    {
        retryAfter = TimeSpan.Zero;
        firstRefusal = false;
        var throttle = options.CurrentValue.Authentication.Throttle;
        if (throttle.MaxFailures <= 0 || peer is null || !_windows.TryGetValue(peer.ToString(), out var window))
        {
            return false;
        }

        lock (window)
        {
            var now = time.GetUtcNow();
            if (now - window.Start >= throttle.Window || window.Failures < throttle.MaxFailures)
            {
                return false;
            }

            retryAfter = window.Start + throttle.Window - now;
            firstRefusal = !window.Reported;
            window.Reported = true;
            return true;
        }
    }

    public void RecordFailure(IPAddress? peer)
    {
        var throttle = options.CurrentValue.Authentication.Throttle;
        if (throttle.MaxFailures <= 0 || peer is null)
        {
            return;
        }

        var now = time.GetUtcNow();
        if (_windows.Count > PruneAbove)
        {
            foreach (var (address, old) in _windows)
            {
                if (now - old.Start >= throttle.Window)
                {
                    _windows.TryRemove(address, out _);
                }
            }
        }

        var window = _windows.GetOrAdd(peer.ToString(), _ => new Window(now));
        lock (window)
        {
            if (now - window.Start >= throttle.Window)
            {
                window.Start = now;
                window.Failures = 0;
                window.Reported = false;
            }

            window.Failures++;
        }
    }

    private sealed class Window(DateTimeOffset start)
    {
        public DateTimeOffset Start { get; set; } = start;

        public int Failures { get; set; }

        public bool Reported { get; set; }
    }
}
