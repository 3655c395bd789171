using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Diagnostics;

namespace SparkConnect.Multiplexer.Engines;

/// <summary>
/// Probes every engine in use with a Spark Connect Config call. After
/// <see cref="EngineHealthOptions.FailuresBeforeLost"/> failures in a row the engine is lost: its sessions are
/// told once ("engine lost") and released, and never silently moved to another engine.
/// </summary>
internal sealed class EngineHealthMonitor(
    EngineEndpointRegistry registry,
    EngineCaller caller,
    IOptionsMonitor<SparkConnectGatewayOptions> options,
    TimeProvider time,
    ILogger<EngineHealthMonitor> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, ProbeState> _states = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var interval = options.CurrentValue.Health.ProbeInterval;
                await Task.Delay(interval > TimeSpan.Zero ? interval : TimeSpan.FromMinutes(1), time, stoppingToken);
                if (interval > TimeSpan.Zero)
                {
                    await ProbeAllAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                GatewayLog.BackgroundTaskFailed(logger, "engine health probe", e);
            }
        }
    }

    /// <summary>Probes every known engine once; returns the ids of engines found lost.</summary>
    public async Task<IReadOnlyList<string>> ProbeAllAsync(CancellationToken cancellationToken)
    {
        var health = options.CurrentValue.Health;
        var engines = registry.Endpoints.ToArray();
        var results = await Task.WhenAll(engines.Select(async engine =>
        {
            // One probe session per engine, reused, so probing does not pile sessions up on the engine.
            var state = _states.GetOrAdd(engine.Id, static _ => new ProbeState(Guid.NewGuid().ToString()));
            var (healthy, reason) = await caller.ProbeAsync(engine, state.ProbeSessionId, health.ProbeTimeout, cancellationToken);
            if (healthy)
            {
                state.Failures = 0;
                return null;
            }

            state.Failures++;
            GatewayLog.EngineProbeFailed(logger, engine.Id, state.Failures, reason);
            if (state.Failures < health.FailuresBeforeLost)
            {
                return null;
            }

            registry.MarkLost(engine.Id, $"{state.Failures} health probes failed, last: {reason}", time.GetUtcNow());
            _states.TryRemove(engine.Id, out _);
            return engine.Id;
        }));

        return [.. results.OfType<string>()];
    }

    private sealed class ProbeState(string probeSessionId)
    {
        public string ProbeSessionId { get; } = probeSessionId;

        public int Failures { get; set; }
    }
}
