using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using SparkConnect.Multiplexer.Admission;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.Internal;
using SparkConnect.Multiplexer.Protocol;
using SparkConnect.Multiplexer.Routing;
using SparkConnect.Multiplexer.Sessions;

namespace SparkConnect.Multiplexer.Forwarding;

/// <summary>A session and the engine its calls go to.</summary>
internal sealed record RoutedSession(SessionRecord Session, EngineEndpoint Engine);

/// <summary>
/// Applies the session rules: the first principal to use a session id owns it, nobody else may use it, and a
/// session stays on the engine it started on for its whole life.
/// </summary>
internal sealed class SessionRouter(
    ISessionStore store,
    IEngineLocator locator,
    EngineEndpointRegistry registry,
    EngineKeyResolver keys,
    GatewayLimits limits,
    AuthorizationPolicy authorization,
    GatewayAudit audit,
    TimeProvider time,
    GatewayMetrics metrics,
    Management.ReleasedSessions released,
    ILogger<SessionRouter> logger)
{
    /// <param name="context">The call.</param>
    /// <param name="principal">The caller.</param>
    /// <param name="sessionId">The request's session id.</param>
    /// <param name="method">
    /// The call's method: only one that creates a Spark session (<see cref="SparkConnectMethod.MayCreateSession"/>)
    /// may make the locator launch an engine for a session the gateway does not know.
    /// </param>
    /// <param name="cancellationToken">The call's token.</param>
    /// <returns>
    /// The session and its engine; <see langword="null"/> when the call cannot create a session, the gateway does not
    /// know it and no engine runs for its key: then nothing was launched or claimed, and the caller answers as Spark
    /// does for an unknown session.
    /// </returns>
    /// <exception cref="GatewayException">PERMISSION_DENIED for another user's session; the locator's status when no engine can be had.</exception>
    public async ValueTask<RoutedSession?> RouteAsync(HttpContext context, GatewayPrincipal principal, string sessionId, SparkConnectMethod method, CancellationToken cancellationToken)
    {
        var peer = context.Connection.RemoteIpAddress;
        var session = await FromStoreAsync(static (store, id, token) => store.GetAsync(id, token), sessionId, "look up", cancellationToken);
        if (session is null)
        {
            if (released.TryGet(sessionId, principal.UserName, out var release))
            {
                // Released by an administrator: the owner is told so, once per call, rather than silently given a
                // new session under the same id (the client would pin it to a new engine's server-side session).
                throw new GatewayException(StatusCode.Internal, Management.ReleasedSessions.Message(sessionId, release))
                {
                    StatusDetails = Management.ReleasedSessions.StatusDetails(sessionId, release),
                };
            }

            var hints = RoutingHints.From(context.Request.Headers);
            var key = keys.Resolve(principal, sessionId, hints);
            authorization.AuthorizeSession(principal, key, engine: null);
            var address = AddressOf(peer);
            EngineEndpoint? running = null;
            if (!method.MayCreateSession)
            {
                // Nothing can launch, so the engine is asked for before the session is counted: a release of a session
                // that exists nowhere is answered even for a user at the session limit.
                running = await LocateAsync(principal, key, sessionId, hints, peer, mayLaunch: false, cancellationToken);
                if (running is null)
                {
                    GatewayLog.UnknownSessionNotLaunched(logger, sessionId, principal.UserName, key);
                    return null;
                }
            }

            // Counted before locating, so a user over a limit never makes an engine launch.
            var counted = await limits.OpenSessionAsync(sessionId, principal, address, cancellationToken);
            SessionClaim claim;
            EngineEndpoint engine;
            try
            {
                engine = running ?? await LocateAsync(principal, key, sessionId, hints, peer, mayLaunch: true, cancellationToken)
                    ?? throw new GatewayException(StatusCode.Unavailable, $"The engine locator found no engine for engine key {key}; retry.");
                authorization.AuthorizeSession(principal, key, engine);
                var now = time.GetUtcNow();
                var candidate = new SessionRecord { SessionId = sessionId, Owner = principal.UserName, EngineKey = key, EngineId = engine.Id, EngineAddress = engine.Address, CreatedAt = now, LastActivity = now, ClientAddress = address };
                claim = await FromStoreAsync(static (store, record, token) => store.ClaimAsync(record, token), candidate, "claim", cancellationToken);
            }
            catch
            {
                Uncount(counted, sessionId);
                throw;
            }

            if (claim.IsNew)
            {
                limits.SessionClaimed(sessionId);
                metrics.SessionOpened();
                GatewayLog.SessionOpened(logger, sessionId, principal.UserName, peer, engine.Id, key);
                audit.SessionOpened(sessionId, principal.UserName, address, engine.Id, key);
                return new RoutedSession(claim.Session, engine);
            }

            // Another call claimed the id first; the checks below apply to it as to any existing session.
            Uncount(counted, sessionId);
            session = claim.Session;
        }

        EnsureOwner(session, principal, peer);
        if (registry.IsLostFor(session.EngineId, session.CreatedAt, out var loss))
        {
            // Told once: the session is released, and the client's next session gets a fresh engine.
            var reason = $"Engine lost: session {session.SessionId} ran on engine '{session.EngineId}', which is gone ({loss.Reason}). The session has been released; start a new session.";
            GatewayLog.EngineLost(logger, session.SessionId, session.EngineId, loss.Reason);
            await ForgetAsync(session.SessionId, SessionCloseReasons.EngineLost, cancellationToken);
            throw new GatewayException(StatusCode.Unavailable, reason);
        }

        // No touch here: a running call keeps its session from expiring (ActiveCalls), and the handler records the
        // activity when the call ends — one store write per call, not two.
        return new RoutedSession(session, await EngineOfAsync(context, principal, session, cancellationToken));
    }

    /// <summary>Claims CloneSession's new session id for the same user on the same engine.</summary>
    /// <returns>True when the id was claimed now (and should be forgotten if the clone fails).</returns>
    public async ValueTask<bool> ClaimCloneAsync(HttpContext context, RoutedSession source, string newSessionId, GatewayPrincipal principal, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var address = AddressOf(context.Connection.RemoteIpAddress);
        var counted = await limits.OpenSessionAsync(newSessionId, principal, address, cancellationToken);
        SessionClaim claim;
        try
        {
            var candidate = source.Session with { SessionId = newSessionId, CreatedAt = now, LastActivity = now, ClientAddress = address };
            claim = await FromStoreAsync(static (store, record, token) => store.ClaimAsync(record, token), candidate, "claim", cancellationToken);
        }
        catch
        {
            Uncount(counted, newSessionId);
            throw;
        }

        if (!claim.IsNew)
        {
            Uncount(counted, newSessionId);
            EnsureOwner(claim.Session, principal, context.Connection.RemoteIpAddress);
            if (claim.Session.EngineId != source.Engine.Id)
            {
                throw GatewayException.InvalidArgument($"new_session_id '{newSessionId}' is already a session on another engine; clone into a fresh session id.");
            }

            return false;
        }

        limits.SessionClaimed(newSessionId);
        metrics.SessionOpened();
        GatewayLog.SessionOpened(logger, newSessionId, principal.UserName, context.Connection.RemoteIpAddress, source.Engine.Id, source.Session.EngineKey);
        audit.SessionOpened(newSessionId, principal.UserName, address, source.Engine.Id, source.Session.EngineKey);
        return true;
    }

    /// <param name="sessionId">The session.</param>
    /// <param name="reason">One of <see cref="SessionCloseReasons"/>.</param>
    /// <param name="cancellationToken">Cancels the store call.</param>
    /// <returns>The session forgotten, or <see langword="null"/> when the store had none.</returns>
    public async ValueTask<SessionRecord?> ForgetAsync(string sessionId, string reason, CancellationToken cancellationToken)
    {
        if (await FromStoreAsync(static (store, id, token) => store.RemoveAsync(id, token), sessionId, "remove", cancellationToken) is { } session)
        {
            SessionForgotten(session, reason);
            return session;
        }

        return null;
    }

    /// <summary>Accounts for a session removed from the store (metrics, limits, log, audit).</summary>
    /// <param name="session">The session removed.</param>
    /// <param name="reason">One of <see cref="SessionCloseReasons"/>.</param>
    public void SessionForgotten(SessionRecord session, string reason)
    {
        metrics.SessionClosed(reason);
        limits.SessionClosed(session.SessionId);
        GatewayLog.SessionReleased(logger, session.SessionId, session.Owner);
        audit.SessionClosed(session.SessionId, session.Owner, reason);
    }

    /// <summary>Forgets a session after its call has been answered: a store failure is logged, not thrown.</summary>
    public async ValueTask TryForgetAsync(string sessionId, string reason)
    {
        try
        {
            await ForgetAsync(sessionId, reason, CancellationToken.None);
        }
        catch (GatewayException)
        {
            // Logged by FromStoreAsync; the session expires when idle, or a later release removes it.
        }
    }

    private void Uncount(bool counted, string sessionId)
    {
        // Only the call that counted the id frees it: a concurrent call for the same new id may hold the count.
        if (counted)
        {
            limits.SessionClosed(sessionId);
        }
    }

    /// <summary>The client address as limits count it (IPv4-mapped IPv6 folded to IPv4).</summary>
    public static string? AddressOf(System.Net.IPAddress? peer)
        => peer is null ? null : (peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4() : peer).ToString();

    private void EnsureOwner(SessionRecord session, GatewayPrincipal principal, System.Net.IPAddress? peer)
    {
        if (!string.Equals(session.Owner, principal.UserName, StringComparison.Ordinal))
        {
            GatewayLog.SessionHijackRefused(logger, session.SessionId, principal.UserName, peer);
            throw new GatewayException(StatusCode.PermissionDenied, $"Session {session.SessionId} belongs to another user; start a new session (a new session_id).")
            {
                Refusal = RefusalReasons.Ownership,
            };
        }
    }

    /// <summary>
    /// A session store call; a store that fails (a shared store out of reach) gives the client UNAVAILABLE, which it
    /// retries, rather than INTERNAL. The client is told only that the store is unreachable: the store's own message
    /// (addresses, client-library internals, often a kilobyte) goes to the log.
    /// </summary>
    private async ValueTask<TResult> FromStoreAsync<TState, TResult>(Func<ISessionStore, TState, CancellationToken, ValueTask<TResult>> call, TState state, string operation, CancellationToken cancellationToken)
    {
        try
        {
            return await call(store, state, cancellationToken);
        }
        catch (Exception e) when (e is not GatewayException && (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested))
        {
            GatewayLog.SessionStoreFailed(logger, operation, store.GetType().Name, e);
            throw new GatewayException(StatusCode.Unavailable, $"The gateway's session store is unreachable (it could not {operation} the session); retry the call.", e);
        }
    }

    private async ValueTask<EngineEndpoint> EngineOfAsync(HttpContext context, GatewayPrincipal principal, SessionRecord session, CancellationToken cancellationToken)
    {
        if (registry.TryGet(session.EngineId, out var known))
        {
            return known;
        }

        // This instance has not met the engine (another instance bound the session, or this one restarted). Ask
        // again for the session's key: the same engine id means it still runs; another means the bound engine is
        // gone, and a session must never move (clients pin the engine's server_side_session_id).
        // Never a launch: a new engine could not hold the session anyway.
        var located = await LocateAsync(principal, session.EngineKey, session.SessionId, RoutingHints.From(context.Request.Headers), context.Connection.RemoteIpAddress, mayLaunch: false, cancellationToken);
        if (located is not null && located.Id == session.EngineId)
        {
            return located;
        }

        var reason = $"Engine lost: session {session.SessionId} ran on engine '{session.EngineId}', which is no longer available. The session has been released; start a new session.";
        GatewayLog.EngineLost(logger, session.SessionId, session.EngineId, reason);
        await ForgetAsync(session.SessionId, SessionCloseReasons.EngineLost, cancellationToken);
        throw new GatewayException(StatusCode.Unavailable, reason);
    }

    /// <returns>The engine; <see langword="null"/> when <paramref name="mayLaunch"/> is false and none runs for the key.</returns>
    private async ValueTask<EngineEndpoint?> LocateAsync(GatewayPrincipal principal, EngineKey key, string sessionId, IReadOnlyDictionary<string, string> hints, System.Net.IPAddress? peer, bool mayLaunch, CancellationToken cancellationToken)
    {
        EngineEndpoint engine;
        try
        {
            var request = new EngineRequest(principal, key, sessionId, hints, peer) { MayLaunch = mayLaunch };
            engine = await locator.LocateAsync(request, cancellationToken);
        }
        catch (EngineNotRunningException) when (!mayLaunch)
        {
            return null;
        }
        catch (EngineLocationException e)
        {
            throw new GatewayException(e.StatusCode, e.Message, e) { RetryAfter = e.RetryAfter };
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw new GatewayException(StatusCode.Unavailable, $"The engine locator failed for engine key {key}: {e.Message}", e);
        }

        registry.Remember(engine);
        return engine;
    }
}
