using System.Globalization;
using System.Net;
using Grpc.Core;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Internal;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Admission;

/// <summary>
/// Calls per second per client address (before authentication) and per user (after), as token buckets. A refusal is
/// RESOURCE_EXHAUSTED with google.rpc.RetryInfo saying when the next call fits: Spark clients wait that long and
/// retry instead of failing the query. Counted in this instance, or across instances with <see cref="ISharedLimits"/>.
/// </summary>
internal sealed class CallRateLimits(IOptionsMonitor<SparkConnectGatewayOptions> options, TimeProvider time, GatewayMetrics metrics, ISharedLimits? shared = null)
{
    // Values of the metric's limit tag, and which subject a refusal names.
    private const string UserLimit = "user";
    private const string ClientAddressLimit = "client_address";

    /// <summary>The highest rate that can be set; configuration above it is refused at start-up.</summary>
    public const int MaxCallsPerSecond = 1_000_000;

    private readonly KeyedTokenBuckets _addresses = new(time);
    private readonly KeyedTokenBuckets _users = new(time);

    internal KeyedTokenBuckets AddressBuckets => _addresses;

    internal KeyedTokenBuckets UserBuckets => _users;

    /// <exception cref="GatewayException">RESOURCE_EXHAUSTED with a retry delay, over the address's rate.</exception>
    public ValueTask AdmitAddressAsync(IPAddress? peer, CancellationToken cancellationToken)
    {
        var limits = options.CurrentValue.Limits;
        if (limits.CallsPerSecondPerClientAddress <= 0 || peer is null)
        {
            return ValueTask.CompletedTask;
        }

        var address = (peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4() : peer).ToString();
        return TakeAsync(_addresses, "a:" + address, limits.CallsPerSecondPerClientAddress, limits.CallBurstPerClientAddress, ClientAddressLimit, address, cancellationToken);
    }

    /// <exception cref="GatewayException">RESOURCE_EXHAUSTED with a retry delay, over the user's rate.</exception>
    public ValueTask AdmitUserAsync(GatewayPrincipal principal, CancellationToken cancellationToken)
    {
        var limits = UserLimits.For(options.CurrentValue.Limits, principal);
        return limits.CallsPerSecond <= 0
            ? ValueTask.CompletedTask
            : TakeAsync(_users, "u:" + principal.UserName, limits.CallsPerSecond, limits.CallBurst, UserLimit, principal.UserName, cancellationToken);
    }

    private ValueTask TakeAsync(KeyedTokenBuckets local, string key, int perSecond, int burst, string limit, string subject, CancellationToken cancellationToken)
    {
        if (shared is not { IsEnabled: true })
        {
            return local.TryTake(key, perSecond, burst) is { } wait ? throw Refusal(limit, subject, perSecond, burst, wait) : ValueTask.CompletedTask;
        }

        return TakeSharedAsync(local, key, perSecond, burst, limit, subject, cancellationToken);
    }

    private async ValueTask TakeSharedAsync(KeyedTokenBuckets local, string key, int perSecond, int burst, string limit, string subject, CancellationToken cancellationToken)
    {
        TimeSpan? wait;
        try
        {
            wait = await shared!.TryTakeCallAsync(key, perSecond, burst, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The shared store is out of reach (and says so where it matters, in the session store's calls): this
            // instance's own bucket still holds the line.
            wait = local.TryTake(key, perSecond, burst);
        }

        if (wait is { } delay)
        {
            throw Refusal(limit, subject, perSecond, burst, delay);
        }
    }

    // The refusal's text is made only when a call is refused, never on the path of an admitted one.
    private GatewayException Refusal(string limit, string subject, int perSecond, int burst, TimeSpan wait)
    {
        var who = limit == UserLimit ? $"User '{subject}'" : $"Client address {subject}";
        metrics.RateLimited(limit);
        // Whole milliseconds, rounded up: a client told to wait 0 ms would come straight back.
        var delay = TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling(wait.TotalMilliseconds)));
        var message = string.Create(CultureInfo.InvariantCulture, $"{who} is over the call rate allowed ({perSecond} per second, bursts of {(burst > 0 ? burst : perSecond)}); retry in {delay.TotalMilliseconds:0} ms.");
        return new GatewayException(StatusCode.ResourceExhausted, message) { RetryAfter = delay };
    }
}
