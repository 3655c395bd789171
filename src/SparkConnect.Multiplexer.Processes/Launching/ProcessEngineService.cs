using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Processes.Internal;

namespace SparkConnect.Multiplexer.Processes.Launching;

/// <summary>Checks launched engines for idleness every <see cref="ProcessEngineOptions.IdleCheckInterval"/>, and stops them all with the host.</summary>
internal sealed class ProcessEngineService(
    ProcessEngineManager engines,
    IEngineLauncherServices gateway,
    IOptionsMonitor<ProcessEngineOptions> options,
    TimeProvider time,
    ILogger<ProcessEngineService> logger) : BackgroundService
{
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);

        await gateway.WaitForDrainAsync(cancellationToken);

        await engines.StopAllAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await engines.AdoptOrStopOrphansAsync(stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            ProcessEngineLog.IdleCheckFailed(logger, e);
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.CurrentValue.IdleCheckInterval, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                // Stopping, also when the host failed to start (a port in use): the host reports a cancelled
                // background service as a crash unless its own stop was called, so end quietly instead.
                return;
            }

            try
            {
                await engines.CheckIdleAsync(stoppingToken);

                // Engines handed over by a gateway that stopped after this one started are found here.
                await engines.AdoptOrStopOrphansAsync(stoppingToken);
                engines.DeleteExpiredWorkDirectories();
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                ProcessEngineLog.IdleCheckFailed(logger, e);
            }
        }
    }
}
