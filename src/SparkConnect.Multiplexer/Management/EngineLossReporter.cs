using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SparkConnect.Multiplexer.Diagnostics;
using SparkConnect.Multiplexer.Engines;

namespace SparkConnect.Multiplexer.Management;

/// <summary>
/// Says when an engine is found gone — by a health probe, its process exiting, discovery or a stop — with how many
/// sessions were bound to it, rather than only when one of those sessions next calls; and counts it.
/// </summary>
internal sealed class EngineLossReporter(EngineEndpointRegistry registry, ISessionStore store, GatewayMetrics metrics, ILogger<EngineLossReporter> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        registry.Lost += OnLost;
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        registry.Lost -= OnLost;
        await _stopping.CancelAsync();
    }

    public void Dispose() => _stopping.Dispose();

    private void OnLost(string engineId, EngineLoss loss)
    {
        metrics.EngineLost();

        // Counting reads the whole store (a shared one over the network): off the finder's thread.
        _ = Task.Run(() => ReportAsync(engineId, loss, _stopping.Token));
    }

    private async Task ReportAsync(string engineId, EngineLoss loss, CancellationToken cancellationToken)
    {
        try
        {
            var count = 0;
            await foreach (var session in store.ListAsync(cancellationToken))
            {
                if (session.EngineId == engineId && session.CreatedAt <= loss.At)
                {
                    count++;
                }
            }

            GatewayLog.EngineLostDetected(logger, engineId, loss.Reason, count);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            GatewayLog.EngineLostUncounted(logger, engineId, loss.Reason, e);
        }
        catch (OperationCanceledException)
        {
            // The host is stopping.
        }
    }
}
