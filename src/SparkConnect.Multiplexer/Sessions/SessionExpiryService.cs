using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Diagnostics;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.Forwarding;

namespace SparkConnect.Multiplexer.Sessions;

/// <summary>
/// Releases sessions that had no call and no running stream for <see cref="GatewaySessionOptions.IdleTimeout"/>:
/// ReleaseSession goes to the engine (as the session's owner, the engine's key for it), then the gateway forgets it.
/// </summary>
internal sealed class SessionExpiryService(
    ISessionStore store,
    ActiveCalls activeCalls,
    EngineEndpointRegistry registry,
    EngineCaller caller,
    SessionRouter router,
    IOptionsMonitor<SparkConnectGatewayOptions> options,
    TimeProvider time,
    ILogger<SessionExpiryService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.CurrentValue.Sessions.ExpiryScanInterval, time, stoppingToken);
                await ExpireIdleSessionsAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                GatewayLog.BackgroundTaskFailed(logger, "session expiry", e);
            }
        }
    }

    /// <summary>One scan; returns the number of sessions released.</summary>
    public async Task<int> ExpireIdleSessionsAsync(CancellationToken cancellationToken)
    {
        var idleTimeout = options.CurrentValue.Sessions.IdleTimeout;
        if (idleTimeout <= TimeSpan.Zero)
        {
            return 0;
        }

        var now = time.GetUtcNow();
        var expired = new List<SessionRecord>();
        await foreach (var session in store.ListAsync(cancellationToken))
        {
            if (now - session.LastActivity >= idleTimeout && !activeCalls.IsActive(session.SessionId))
            {
                expired.Add(session);
            }
        }

        foreach (var session in expired)
        {
            if (registry.TryGet(session.EngineId, out var engine))
            {
                var (released, reason) = await caller.ReleaseSessionAsync(engine, session.SessionId, session.Owner, options.CurrentValue.Health.ProbeTimeout, cancellationToken);
                if (!released)
                {
                    // The engine may be gone or may not know ReleaseSession (Spark 3.4/3.5); the gateway forgets it anyway.
                    GatewayLog.ReleaseOnEngineFailed(logger, session.SessionId, session.EngineId, reason);
                }
            }

            GatewayLog.SessionExpired(logger, session.SessionId, session.Owner, now - session.LastActivity);
            await router.ForgetAsync(session.SessionId, "expired", cancellationToken);
        }

        return expired.Count;
    }
}
