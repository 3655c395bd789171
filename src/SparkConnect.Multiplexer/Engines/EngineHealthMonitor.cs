using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Internal;

namespace SparkConnect.Multiplexer.Engines;

/// <summary>
/// Probes every engine in use with a Spark Connect Config call. After
/// <see cref="EngineHealthOptions.FailuresBeforeLost"/> failures in a row the engine is lost: its sessions are
/// told once ("engine lost") and released, and never silently moved to another engine.
/// </summary>
internal sealed class EngineHealthMonitor(
    EngineEndpointRegistry registry,
    IEngineLifecycle lifecycle,
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
            state.LastProbe = new EngineProbe(healthy, healthy ? 0 : state.Failures + 1, time.GetUtcNow(), healthy ? null : reason);
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

            lifecycle.ReportLost(engine.Id, $"{state.Failures} health probes failed, last: {reason}");
            _states.TryRemove(engine.Id, out _);
            return engine.Id;
        }));

        return [.. results.OfType<string>()];
    }

    /// <summary>The last probe of an engine still in use; <see langword="false"/> when it has not been probed.</summary>
    public bool TryGetLastProbe(string engineId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out EngineProbe? probe)
    {
        probe = _states.TryGetValue(engineId, out var state) ? state.LastProbe : null;
        return probe is not null;
    }

    private sealed class ProbeState(string probeSessionId)
    {
        public string ProbeSessionId { get; } = probeSessionId;

        public int Failures { get; set; }

        public EngineProbe? LastProbe { get; set; }
    }
}

/// <summary>The outcome of an engine's last health probe: failures in a row, and the last failure's reason.</summary>
internal sealed record EngineProbe(bool Healthy, int Failures, DateTimeOffset At, string? Reason);
