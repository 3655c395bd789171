using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.Forwarding;
using SparkConnect.Multiplexer.Internal;

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

    /// <summary>One scan; returns the number of sessions expired (forgotten) by this instance.</summary>
    /// <remarks>
    /// With a store shared by several gateway instances, every instance scans every session: a running stream
    /// counts as activity only on the instance that carries it, so each scan first marks this instance's running
    /// sessions as active in the store. An idle session is removed first — atomically, so one instance wins — and
    /// only the winner releases it on the engine. An instance that has not met the session's engine (it holds no
    /// credentials for it) leaves the session to the instance that has, and forgets it without a release only after
    /// twice the idle timeout, when that instance is evidently gone; the engine's own session timeout covers it there.
    /// </remarks>
    public async Task<int> ExpireIdleSessionsAsync(CancellationToken cancellationToken)
    {
        var idleTimeout = options.CurrentValue.Sessions.IdleTimeout;
        if (idleTimeout <= TimeSpan.Zero)
        {
            return 0;
        }

        var now = time.GetUtcNow();
        var candidates = new List<SessionRecord>();
        var running = new List<string>();
        await foreach (var session in store.ListAsync(cancellationToken))
        {
            if (activeCalls.IsActive(session.SessionId))
            {
                running.Add(session.SessionId);
            }
            else if (now - session.LastActivity >= idleTimeout)
            {
                candidates.Add(session);
            }
        }

        foreach (var sessionId in running)
        {
            await store.TouchAsync(sessionId, now, cancellationToken);
        }

        var expiredCount = 0;
        foreach (var candidate in candidates)
        {
            var knowsEngine = registry.TryGet(candidate.EngineId, out var engine);
            if (!knowsEngine && now - candidate.LastActivity < 2 * idleTimeout)
            {
                continue;
            }

            // Removed first: only the instance whose removal returns the session releases it, once.
            if (await store.RemoveAsync(candidate.SessionId, cancellationToken) is not { } session)
            {
                continue;
            }

            if (now - session.LastActivity < idleTimeout)
            {
                // Used again between the scan and the removal (on another instance): put it back as it now is.
                await store.ClaimAsync(session, cancellationToken);
                continue;
            }

            expiredCount++;
            router.SessionForgotten(session, SessionCloseReasons.Expired);
            GatewayLog.SessionExpired(logger, session.SessionId, session.Owner, now - session.LastActivity);
            if (engine is null)
            {
                GatewayLog.ReleaseOnEngineFailed(logger, session.SessionId, session.EngineId, "this gateway instance has not met the engine; the engine's own session timeout releases it");
                continue;
            }

            var (released, reason) = await caller.ReleaseSessionAsync(engine, session.SessionId, session.Owner, options.CurrentValue.Health.ProbeTimeout, cancellationToken);
            if (!released)
            {
                // The engine may be gone or may not know ReleaseSession (Spark 3.4/3.5); the gateway forgets it anyway.
                GatewayLog.ReleaseOnEngineFailed(logger, session.SessionId, session.EngineId, reason);
            }
        }

        return expiredCount;
    }
}
