using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Sessions;

namespace SparkConnect.Multiplexer.Hosting;

/// <summary>
/// Graceful shutdown: from the moment the host starts stopping, new calls are refused (so clients retry another
/// instance) while running calls may finish; after <see cref="SparkConnectGatewayOptions.DrainTimeout"/> the
/// rest are cancelled.
/// </summary>
internal sealed class GatewayShutdown : IDisposable
{
    private readonly CancellationTokenSource _drainExpired = new();
    private readonly CancellationTokenRegistration _registration;
    private ITimer? _timer;
    private bool _stopping;

    private readonly ActiveCalls _activeCalls;
    private readonly TimeProvider _time;
    private readonly IOptions<SparkConnectGatewayOptions> _options;
    private readonly Lock _gate = new();

    public GatewayShutdown(IHostApplicationLifetime lifetime, IOptions<SparkConnectGatewayOptions> options, ActiveCalls activeCalls, TimeProvider time)
    {
        _activeCalls = activeCalls;
        _time = time;
        _options = options;
        _registration = lifetime.ApplicationStopping.Register(BeginStopping);
    }

    /// <summary>
    /// Starts the shutdown: new calls are refused, readiness says not ready, and the drain time starts. Called when
    /// the host signals stopping, and by whatever runs first in the host's stop (the shutdown delay); idempotent.
    /// </summary>
    public void BeginStopping()
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            Volatile.Write(ref _stopping, true);
            var drain = _options.Value.DrainTimeout + _options.Value.ShutdownDelay;
            if (drain <= TimeSpan.Zero)
            {
                _drainExpired.Cancel();
            }
            else
            {
                _timer = _time.CreateTimer(static state => ((CancellationTokenSource)state!).Cancel(), _drainExpired, drain, Timeout.InfiniteTimeSpan);
            }
        }
    }

    public bool IsStopping => Volatile.Read(ref _stopping);

    /// <summary>Cancelled when the drain time is over.</summary>
    public CancellationToken DrainExpired => _drainExpired.Token;

    /// <summary>
    /// Completes when no call is running or the drain time is over. Hosted services stop before the server finishes
    /// draining, so whatever stops engines waits here first: running streams still need their engines.
    /// </summary>
    public async Task WaitForDrainAsync(CancellationToken cancellationToken)
    {
        while (_activeCalls.Any && !DrainExpired.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), _time, cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        _registration.Dispose();
        _timer?.Dispose();
        _drainExpired.Dispose();
    }
}
