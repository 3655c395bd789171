using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Kubernetes.Discovery;
using SparkConnect.Multiplexer.Kubernetes.Internal;

namespace SparkConnect.Multiplexer.Kubernetes.Launching;

/// <summary>Runs the pod cache's watches and, every <see cref="KubernetesEngineOptions.CleanupInterval"/>, the clean-up of idle and terminated pods.</summary>
internal sealed class KubernetesEngineService(
    EnginePodCache cache,
    KubernetesEngineManager engines,
    IOptions<KubernetesEngineOptions> options,
    TimeProvider time,
    ILogger<KubernetesEngineService> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
        => Task.WhenAll(cache.RunAsync(stoppingToken), CleanUpLoopAsync(stoppingToken));

    private async Task CleanUpLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.Value.CleanupInterval, time, stoppingToken);
                await engines.CleanUpAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                KubernetesLog.CleanupFailed(logger, e);
            }
        }
    }
}
