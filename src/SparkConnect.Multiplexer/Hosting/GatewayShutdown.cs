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

    public GatewayShutdown(IHostApplicationLifetime lifetime, IOptions<SparkConnectGatewayOptions> options, ActiveCalls activeCalls, TimeProvider time)
    {
        _activeCalls = activeCalls;
        _time = time;
        _registration = lifetime.ApplicationStopping.Register(() =>
        {
            Volatile.Write(ref _stopping, true);
            var drain = options.Value.DrainTimeout;
            if (drain <= TimeSpan.Zero)
            {
                _drainExpired.Cancel();
            }
            else
            {
                _timer = time.CreateTimer(static state => ((CancellationTokenSource)state!).Cancel(), _drainExpired, drain, Timeout.InfiniteTimeSpan);
            }
        });
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
