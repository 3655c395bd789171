using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Launching;

/// <summary>Checks launched engines for idleness every <see cref="ProcessEngineOptions.IdleCheckInterval"/>, and stops them all with the host.</summary>
internal sealed class ProcessEngineService(
    ProcessEngineManager engines,
    SparkConnect.Multiplexer.Hosting.GatewayShutdown shutdown,
    SparkConnect.Multiplexer.Sessions.ActiveCalls activeCalls,
    IOptionsMonitor<ProcessEngineOptions> options,
    TimeProvider time,
    ILogger<ProcessEngineService> logger) : BackgroundService
{
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);

        // Hosted services stop before the server finishes draining: running streams still need their engines,
        // so wait for them (or for the drain time to run out) before stopping the engines.
        while (activeCalls.Any && !shutdown.DrainExpired.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken).ConfigureAwait(false);
        }

        await engines.StopAllAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(options.CurrentValue.IdleCheckInterval, time, stoppingToken);
            try
            {
                await engines.CheckIdleAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                ProcessEngineLog.IdleCheckFailed(logger, e);
            }
        }
    }
}
