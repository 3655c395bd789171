namespace SparkConnect.Multiplexer.Management;

/// <summary>A session as the admin API shows it.</summary>
/// <param name="SessionId">The client's session id.</param>
/// <param name="User">Its owner.</param>
/// <param name="EngineId">The engine serving it.</param>
/// <param name="EngineKey">The engine key it was routed by (SHARELEVEL/owner/subdomain).</param>
/// <param name="EngineAddress">The engine's address.</param>
/// <param name="ClientAddress">The address of the client that opened it, when known.</param>
/// <param name="CreatedAt">When it was opened.</param>
/// <param name="LastActivity">When a call last used it.</param>
/// <param name="AgeSeconds">Seconds since it was opened.</param>
/// <param name="IdleSeconds">Seconds since a call last used it (0 while a call runs).</param>
/// <param name="RunningCalls">Calls running on it through this gateway instance.</param>
internal sealed record AdminSession(
    string SessionId,
    string User,
    string EngineId,
    string EngineKey,
    string EngineAddress,
    string? ClientAddress,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastActivity,
    double AgeSeconds,
    double IdleSeconds,
    int RunningCalls);

/// <summary>What releasing a session did.</summary>
/// <param name="SessionId">The session.</param>
/// <param name="User">Its owner, as whom ReleaseSession was sent.</param>
/// <param name="ReleasedOnEngine">Whether the engine confirmed the release.</param>
/// <param name="EngineMessage">Why the engine did not confirm, when it did not.</param>
internal sealed record AdminSessionRelease(string SessionId, string User, bool ReleasedOnEngine, string? EngineMessage);

/// <summary>An engine as the admin API shows it.</summary>
/// <param name="Id">The engine id.</param>
/// <param name="Key">Its engine key, when known (launched engines), else the keys of its sessions, comma-separated.</param>
/// <param name="Address">Its address, when known.</param>
/// <param name="Sessions">Sessions bound to it (in the session store: every gateway instance's, with a shared store).</param>
/// <param name="Health">healthy, failing, lost, or unknown (not probed yet, or probing is off).</param>
/// <param name="HealthDetail">The last failed probe, or why it was lost.</param>
/// <param name="Launched">Whether this gateway instance launched it (and can stop it).</param>
/// <param name="State">For a launched engine: Starting, Ready, Retired or Stopping.</param>
/// <param name="StartedAt">For a launched engine: when its launch was requested.</param>
/// <param name="IdleSince">For a launched engine without sessions: when a session last used it.</param>
/// <param name="LaunchedFor">For a launched engine: the user whose session launched it.</param>
internal sealed record AdminEngine(
    string Id,
    string? Key,
    string? Address,
    int Sessions,
    string Health,
    string? HealthDetail,
    bool Launched,
    string? State,
    DateTimeOffset? StartedAt,
    DateTimeOffset? IdleSince,
    string? LaunchedFor);

/// <summary>A deny list: the entries from configuration (changed by editing it) and those set through the admin API.</summary>
/// <param name="Configured">From SparkConnectGateway:Limits.</param>
/// <param name="Live">Set through the admin API; in force at once, on this gateway instance, until replaced or restarted.</param>
internal sealed record AdminDenyList(IReadOnlyList<string> Configured, IReadOnlyList<string> Live);
