using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.Forwarding;
using SparkConnect.Multiplexer.Internal;
using SparkConnect.Multiplexer.Sessions;

namespace SparkConnect.Multiplexer.Management;

/// <summary>
/// The admin API under <c>/api/v1/admin</c> (shaped after Kyuubi's <c>/api/v1/admin</c>): sessions, engines, live
/// deny lists and recent refusals. Every request goes through <see cref="AdminAccess"/>; every change is an audit
/// event naming the administrator.
/// </summary>
internal static class AdminApi
{
    public const string Prefix = "/api/v1/admin";

    /// <summary>The OpenAPI document's name (served at <c>/api/v1/admin/openapi/spark-connect-admin.json</c>).</summary>
    public const string DocumentName = "spark-connect-admin";

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var admin = endpoints.MapGroup(Prefix)
            .AddEndpointFilter<AdminAccess>()
            .WithGroupName(DocumentName)
            .WithTags("admin")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);

        admin.MapGet("/sessions", ListSessionsAsync).WithName("ListSessions")
            .WithSummary("Sessions in the session store (every gateway instance's, with a shared store), optionally of one user or engine.");
        admin.MapGet("/sessions/{sessionId}", GetSessionAsync).WithName("GetSession").WithSummary("One session.");
        admin.MapDelete("/sessions/{sessionId}", ReleaseSessionAsync).WithName("ReleaseSession")
            .WithSummary("Releases a session on its engine (ReleaseSession, as its owner) and forgets it; the owner's next call on it is refused with INVALID_HANDLE.SESSION_CLOSED.");
        admin.MapGet("/engines", ListEnginesAsync).WithName("ListEngines")
            .WithSummary("Engines this gateway instance uses or launched, and those its sessions are bound to.");
        admin.MapDelete("/engines/{engineId}", StopEngineAsync).WithName("StopEngine")
            .WithSummary("Stops an engine this gateway launched; its sessions are told once on their next call that it is lost, and released.");
        admin.MapGet("/deny/users", (IOptionsMonitor<SparkConnectGatewayOptions> options, LiveDenyList deny)
            => new AdminDenyList([.. options.CurrentValue.Limits.DeniedUsers], deny.Users)).WithName("GetDeniedUsers");
        admin.MapPut("/deny/users", SetDeniedUsers).WithName("SetDeniedUsers")
            .WithSummary("Replaces the live list of denied users (JSON array of user names); their calls are refused at once with PERMISSION_DENIED.");
        admin.MapGet("/deny/addresses", (IOptionsMonitor<SparkConnectGatewayOptions> options, LiveDenyList deny)
            => new AdminDenyList([.. options.CurrentValue.Limits.DeniedClientAddresses], deny.Addresses)).WithName("GetDeniedAddresses");
        admin.MapPut("/deny/addresses", SetDeniedAddresses).WithName("SetDeniedAddresses")
            .WithSummary("Replaces the live list of denied client addresses (JSON array of IP addresses or CIDR ranges).");
        admin.MapGet("/refusals", (RecentRefusals refusals) => refusals.Snapshot()).WithName("ListRefusals")
            .WithSummary($"The last {RecentRefusals.Capacity} calls this gateway instance refused, newest first.");
    }

    private static async Task<Ok<List<AdminSession>>> ListSessionsAsync(string? user, string? engine, ISessionStore store, ActiveCalls calls, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var sessions = new List<AdminSession>();
        await foreach (var session in store.ListAsync(cancellationToken))
        {
            if ((user is null || session.Owner == user) && (engine is null || session.EngineId == engine))
            {
                sessions.Add(View(session, calls, now));
            }
        }

        sessions.Sort(static (a, b) => a.CreatedAt.CompareTo(b.CreatedAt));
        return TypedResults.Ok(sessions);
    }

    private static async Task<Results<Ok<AdminSession>, ProblemHttpResult>> GetSessionAsync(string sessionId, ISessionStore store, ActiveCalls calls, TimeProvider time, CancellationToken cancellationToken)
        => await store.GetAsync(sessionId, cancellationToken) is { } session
            ? TypedResults.Ok(View(session, calls, time.GetUtcNow()))
            : NoSession(sessionId);

    private static async Task<Results<Ok<AdminSessionRelease>, ProblemHttpResult>> ReleaseSessionAsync(
        string sessionId,
        HttpContext http,
        ISessionStore store,
        EngineEndpointRegistry registry,
        EngineCaller caller,
        SessionRouter router,
        ReleasedSessions released,
        IOptionsMonitor<SparkConnectGatewayOptions> options,
        GatewayAudit audit,
        CancellationToken cancellationToken)
    {
        var admin = AdminAccess.AdministratorOf(http).UserName;
        if (await store.GetAsync(sessionId, cancellationToken) is not { } session)
        {
            audit.AdminAction(admin, AdminAccess.ClientOf(http), "release_session", Protocol.ClientText.Escape(sessionId), "not_found");
            return NoSession(sessionId);
        }

        // The engine first, as the session's owner (the engine's key for it): once forgotten here, nothing could.
        bool onEngine;
        string? engineMessage;
        if (registry.TryGet(session.EngineId, out var endpoint))
        {
            (onEngine, var reason) = await caller.ReleaseSessionAsync(endpoint, session.SessionId, session.Owner, options.CurrentValue.Health.ProbeTimeout, cancellationToken);
            engineMessage = onEngine ? null : reason;
        }
        else
        {
            onEngine = false;
            engineMessage = "This gateway instance has not met the engine (another instance opened the session); the engine's own session timeout releases it.";
        }

        // Remembered before it is forgotten, so a call in between cannot open a new session under the same id.
        released.Add(session.SessionId, session.Owner, admin);
        await router.ForgetAsync(session.SessionId, SessionCloseReasons.Admin, cancellationToken);
        audit.AdminAction(admin, AdminAccess.ClientOf(http), "release_session", $"{session.SessionId} of {session.Owner}", onEngine ? "released" : "forgotten; engine did not confirm");
        return TypedResults.Ok(new AdminSessionRelease(session.SessionId, session.Owner, onEngine, engineMessage));
    }

    private static async Task<Ok<List<AdminEngine>>> ListEnginesAsync(
        ISessionStore store,
        EngineEndpointRegistry registry,
        EngineHealthMonitor health,
        IEngineLocator locator,
        CancellationToken cancellationToken)
    {
        var sessions = new Dictionary<string, (int Count, SortedSet<string> Keys, string Address)>(StringComparer.Ordinal);
        await foreach (var session in store.ListAsync(cancellationToken))
        {
            if (!sessions.TryGetValue(session.EngineId, out var seen))
            {
                seen = (0, new SortedSet<string>(StringComparer.Ordinal), session.EngineAddress.ToString());
            }

            // A shared engine (static, GROUP or SERVER) serves several keys: all of them are shown.
            seen.Keys.Add(session.EngineKey.ToString());
            sessions[session.EngineId] = seen with { Count = seen.Count + 1 };
        }

        var launched = (locator as ILaunchedEngines)?.LaunchedEngines.ToDictionary(e => e.Id, StringComparer.Ordinal) ?? [];
        var ids = new SortedSet<string>(StringComparer.Ordinal);
        ids.UnionWith(registry.Endpoints.Select(e => e.Id));
        ids.UnionWith(launched.Keys);
        ids.UnionWith(sessions.Keys);

        var engines = new List<AdminEngine>(ids.Count);
        foreach (var id in ids)
        {
            var known = registry.TryGet(id, out var endpoint);
            launched.TryGetValue(id, out var mine);
            sessions.TryGetValue(id, out var bound);
            var (state, detail) = known && health.TryGetLastProbe(id, out var probe)
                ? (probe.Healthy ? "healthy" : "failing", probe.Reason)
                : registry.Losses.TryGetValue(id, out var loss) && !known ? ("lost", loss.Reason)
                : ("unknown", null);
            engines.Add(new AdminEngine(
                id,
                mine?.Key.ToString() ?? (bound.Keys is { Count: > 0 } keys ? string.Join(", ", keys) : null),
                endpoint?.Address.ToString() ?? mine?.Address?.ToString() ?? bound.Address,
                bound.Count,
                state,
                detail,
                mine is not null,
                mine?.State.ToString(),
                mine?.StartedAt,
                mine is not null && bound.Count == 0 ? mine.LastUsed : null,
                mine?.LaunchedBy));
        }

        return TypedResults.Ok(engines);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> StopEngineAsync(
        string engineId,
        HttpContext http,
        IEngineLocator locator,
        EngineEndpointRegistry registry,
        GatewayAudit audit,
        CancellationToken cancellationToken)
    {
        var admin = AdminAccess.AdministratorOf(http).UserName;
        if (locator is ILaunchedEngines engines && await engines.StopEngineAsync(engineId, $"stopped by administrator {admin}", cancellationToken))
        {
            audit.AdminAction(admin, AdminAccess.ClientOf(http), "stop_engine", Protocol.ClientText.Escape(engineId), "stopped");
            return TypedResults.NoContent();
        }

        audit.AdminAction(admin, AdminAccess.ClientOf(http), "stop_engine", Protocol.ClientText.Escape(engineId), "refused");
        return registry.TryGet(engineId, out _)
            ? TypedResults.Problem($"Engine '{engineId}' was not launched by this gateway instance, which cannot stop it; stop it where it runs.", statusCode: StatusCodes.Status409Conflict)
            : TypedResults.Problem($"This gateway instance runs no engine '{engineId}' it can stop; GET {Prefix}/engines lists them.", statusCode: StatusCodes.Status404NotFound);
    }

    private static Results<Ok<AdminDenyList>, ValidationProblem> SetDeniedUsers(string[] users, HttpContext http, IOptionsMonitor<SparkConnectGatewayOptions> options, LiveDenyList deny, GatewayAudit audit)
    {
        var problems = deny.SetUsers(users);
        if (problems.Count > 0)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["users"] = [.. problems] });
        }

        audit.AdminAction(AdminAccess.AdministratorOf(http).UserName, AdminAccess.ClientOf(http), "deny_users", string.Join(',', deny.Users), "set");
        return TypedResults.Ok(new AdminDenyList([.. options.CurrentValue.Limits.DeniedUsers], deny.Users));
    }

    private static Results<Ok<AdminDenyList>, ValidationProblem> SetDeniedAddresses(string[] addresses, HttpContext http, IOptionsMonitor<SparkConnectGatewayOptions> options, LiveDenyList deny, GatewayAudit audit)
    {
        var problems = deny.SetAddresses(addresses);
        if (problems.Count > 0)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["addresses"] = [.. problems] });
        }

        audit.AdminAction(AdminAccess.AdministratorOf(http).UserName, AdminAccess.ClientOf(http), "deny_addresses", string.Join(',', deny.Addresses), "set");
        return TypedResults.Ok(new AdminDenyList([.. options.CurrentValue.Limits.DeniedClientAddresses], deny.Addresses));
    }

    private static AdminSession View(SessionRecord session, ActiveCalls calls, DateTimeOffset now)
    {
        var running = calls.Count(session.SessionId);
        return new AdminSession(
            session.SessionId,
            session.Owner,
            session.EngineId,
            session.EngineKey.ToString(),
            session.EngineAddress.ToString(),
            session.ClientAddress,
            session.CreatedAt,
            session.LastActivity,
            Math.Max(0, (now - session.CreatedAt).TotalSeconds),
            running > 0 ? 0 : Math.Max(0, (now - session.LastActivity).TotalSeconds),
            running);
    }

    private static ProblemHttpResult NoSession(string sessionId)
        => TypedResults.Problem($"No session '{sessionId}' in the session store; GET {Prefix}/sessions lists them.", statusCode: StatusCodes.Status404NotFound);
}
