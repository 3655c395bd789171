using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>
/// The call's cancellation: the client going away, or the <c>grpc-timeout</c> it asked for. The engine receives the
/// time that is left, so time spent locating or launching its engine counts against the client's deadline.
/// </summary>
internal sealed class CallDeadline : IDisposable
{
    public const string TimeoutHeader = "grpc-timeout";

    private readonly CancellationTokenSource _source;
    private readonly TimeProvider _time;
    private readonly long _deadlineTimestamp;

    private CallDeadline(TimeSpan? timeout, TimeProvider time, CancellationToken clientAborted, CancellationToken shutdown)
    {
        _time = time;
        _source = CancellationTokenSource.CreateLinkedTokenSource(clientAborted, shutdown);
        Shutdown = shutdown;
        HasDeadline = timeout.HasValue;
        if (timeout is { } t)
        {
            _deadlineTimestamp = time.GetTimestamp() + (long)(t.TotalSeconds * time.TimestampFrequency);
            _source.CancelAfter(t);
        }

        ClientAborted = clientAborted;
    }

    // While the request's first message is awaited: when FirstMessageTimeout runs out (a timestamp of _time); 0 after.
    // The phase shares the call's one token source instead of linking a second one per call.
    private long _firstMessageDue;

    public CancellationToken Token => _source.Token;

    public CancellationToken ClientAborted { get; }

    /// <summary>Cancelled when the gateway's shutdown drain time is over.</summary>
    public CancellationToken Shutdown { get; }

    public bool HasDeadline { get; }

    /// <summary>True when the deadline, not the client, cancelled the call.</summary>
    public bool IsExpired => HasDeadline && Volatile.Read(ref _firstMessageDue) == 0 && _source.IsCancellationRequested && !ClientAborted.IsCancellationRequested && !Shutdown.IsCancellationRequested;

    /// <summary>True when the request's first message did not arrive within the first-message timeout (<see cref="StartFirstMessagePhase"/>).</summary>
    public bool FirstMessageTimedOut => Volatile.Read(ref _firstMessageDue) != 0 && _source.IsCancellationRequested && !ClientAborted.IsCancellationRequested && !Shutdown.IsCancellationRequested;

    /// <summary>
    /// Until <see cref="EndFirstMessagePhase"/>, <see cref="Token"/> is also cancelled after <paramref name="timeout"/>:
    /// a client that sends headers and then nothing does not keep a stream. Nothing changes when the deadline comes first.
    /// </summary>
    public void StartFirstMessagePhase(TimeSpan timeout)
    {
        var due = _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency);
        if (HasDeadline && due >= _deadlineTimestamp)
        {
            return;
        }

        Volatile.Write(ref _firstMessageDue, due);
        _source.CancelAfter(timeout);
    }

    /// <summary>The first message is in: from here the call runs against its deadline (if any) alone.</summary>
    public void EndFirstMessagePhase()
    {
        var due = Volatile.Read(ref _firstMessageDue);
        if (due == 0 || _source.IsCancellationRequested)
        {
            return;
        }

        Volatile.Write(ref _firstMessageDue, 0);
        if (!HasDeadline)
        {
            _source.CancelAfter(Timeout.InfiniteTimeSpan);
        }
        else if (_deadlineTimestamp - _time.GetTimestamp() is var remaining and > 0)
        {
            _source.CancelAfter(TimeSpan.FromSeconds(remaining / (double)_time.TimestampFrequency));
        }
        else
        {
            _source.Cancel();
            return;
        }

        if (_source.IsCancellationRequested)
        {
            // The phase's timer fired as it ended: the call ends as a first message that came too late.
            Volatile.Write(ref _firstMessageDue, due);
        }
    }

    public static CallDeadline Start(HttpContext context, TimeProvider time, CancellationToken shutdown)
    {
        TimeSpan? timeout = null;
        var header = context.Request.Headers[TimeoutHeader].ToString();
        if (header.Length > 0)
        {
            timeout = TryParseTimeout(header, out var parsed)
                ? parsed
                : throw GatewayException.InvalidArgument($"The grpc-timeout header '{header}' is not valid; it is up to 8 digits and a unit (H, M, S, m, u, n).");
        }

        return new CallDeadline(timeout, time, context.RequestAborted, shutdown);
    }

    /// <summary>The grpc-timeout value to send on, or null when the client set none.</summary>
    public string? RemainingTimeoutHeader()
    {
        if (!HasDeadline)
        {
            return null;
        }

        var remainingTicks = _deadlineTimestamp - _time.GetTimestamp();
        var remainingMs = Math.Max(1, (long)Math.Ceiling(remainingTicks * 1000.0 / _time.TimestampFrequency));
        return remainingMs <= 99_999_999
            ? remainingMs.ToString(CultureInfo.InvariantCulture) + "m"
            : Math.Min(remainingMs / 1000, 99_999_999).ToString(CultureInfo.InvariantCulture) + "S";
    }

    public void Cancel() => _source.Cancel();

    public void Dispose() => _source.Dispose();

    internal static bool TryParseTimeout(string value, out TimeSpan timeout)
    {
        timeout = default;
        if (value.Length is < 2 or > 9
            || !long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            return false;
        }

        double? ticks = value[^1] switch
        {
            'H' => amount * (double)TimeSpan.TicksPerHour,
            'M' => amount * (double)TimeSpan.TicksPerMinute,
            'S' => amount * (double)TimeSpan.TicksPerSecond,
            'm' => amount * (double)TimeSpan.TicksPerMillisecond,
            'u' => amount * (TimeSpan.TicksPerMillisecond / 1000.0),
            'n' => amount / 100.0,
            _ => null,
        };
        if (ticks is not { } t)
        {
            return false;
        }

        // CancelAfter takes at most about 24.8 days; a longer deadline is effectively none.
        timeout = TimeSpan.FromTicks((long)Math.Min(Math.Max(t, 1), TimeSpan.FromDays(24).Ticks));
        return true;
    }
}
