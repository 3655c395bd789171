using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Internal;

namespace SparkConnect.Multiplexer.Hosting;

/// <summary>
/// Holds the host's stop for <see cref="SparkConnectGatewayOptions.ShutdownDelay"/> after shutdown starts, before
/// any hosted service stops — the web server included, so its listeners stay open while readiness says not ready.
/// </summary>
internal sealed class GatewayShutdownDelay(GatewayShutdown shutdown, IOptions<SparkConnectGatewayOptions> options, TimeProvider time, ILogger<GatewayShutdownDelay> logger) : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        var delay = options.Value.ShutdownDelay;
        if (delay > TimeSpan.Zero)
        {
            // Readiness must have turned before the wait, whichever of the host's stop signals came first.
            shutdown.BeginStopping();
            GatewayLog.ShutdownDelayStarted(logger, delay);
            try
            {
                await Task.Delay(delay, time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // The host's shutdown timeout ended the wait: stop now.
            }
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
