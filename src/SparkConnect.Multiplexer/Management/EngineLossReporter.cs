using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SparkConnect.Multiplexer.Internal;

namespace SparkConnect.Multiplexer.Management;

/// <summary>
/// Says when an engine is found gone — by a health probe, its process exiting, discovery or a stop — with how many
/// sessions were bound to it, rather than only when one of those sessions next calls; and counts it.
/// </summary>
internal sealed class EngineLossReporter(IEngineLifecycle lifecycle, ISessionStore store, GatewayMetrics metrics, ILogger<EngineLossReporter> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifecycle.EngineGone += OnGone;
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        lifecycle.EngineGone -= OnGone;
        await _stopping.CancelAsync();
    }

    public void Dispose() => _stopping.Dispose();

    private void OnGone(object? sender, EngineGoneEventArgs gone)
    {
        metrics.EngineLost();

        // Counting reads the whole store (a shared one over the network): off the finder's thread.
        _ = Task.Run(() => ReportAsync(gone, _stopping.Token));
    }

    private async Task ReportAsync(EngineGoneEventArgs gone, CancellationToken cancellationToken)
    {
        try
        {
            var count = 0;
            await foreach (var session in store.ListAsync(cancellationToken))
            {
                if (session.EngineId == gone.EngineId && session.CreatedAt <= gone.At)
                {
                    count++;
                }
            }

            GatewayLog.EngineLostDetected(logger, gone.EngineId, gone.Reason, count);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            GatewayLog.EngineLostUncounted(logger, gone.EngineId, gone.Reason, e);
        }
        catch (OperationCanceledException)
        {
            // The host is stopping.
        }
    }
}
