namespace SparkConnect.Multiplexer;

/// <summary>
/// Gateway settings, bound from the <c>SparkConnectGateway</c> configuration section and validated at start-up.
/// </summary>
public sealed class SparkConnectGatewayOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "SparkConnectGateway";

    /// <summary>The default for <see cref="MaxMessageSize"/>: 128 MiB, as Spark Connect clients and servers use.</summary>
    public const int DefaultMaxMessageSize = 128 * 1024 * 1024;

    /// <summary>How calls are authenticated by the built-in authenticators.</summary>
    public GatewayAuthenticationOptions Authentication { get; set; } = new();

    /// <summary>The engines of the built-in static engine locator.</summary>
    public StaticEnginesOptions Engines { get; set; } = new();

    /// <summary>
    /// The share level of new sessions. Default <see cref="ShareLevel.User"/>: one engine per user. <see cref="ShareLevel.Group"/>
    /// and <see cref="ShareLevel.Server"/> share an engine (and so the driver's data access) between users and are
    /// refused at start-up unless <see cref="AllowSharedEngines"/> is set.
    /// </summary>
    public ShareLevel DefaultShareLevel { get; set; } = ShareLevel.User;

    /// <summary>Allows the GROUP and SERVER share levels. Default <see langword="false"/>.</summary>
    public bool AllowSharedEngines { get; set; }

    /// <summary>
    /// The largest request message, in bytes, the gateway accepts (default 128 MiB); larger ones get
    /// <c>RESOURCE_EXHAUSTED</c>. Responses pass through unread; the client enforces its own limit.
    /// </summary>
    public int MaxMessageSize { get; set; } = DefaultMaxMessageSize;

    /// <summary>
    /// How long a call may take to deliver its first request message (for unary-request methods: the whole
    /// request) after its headers (default 30 s); a call that sends headers and then nothing gets
    /// <c>DEADLINE_EXCEEDED</c>, so idle streams cannot pile up in the gateway.
    /// </summary>
    public TimeSpan FirstMessageTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long opening a connection to an engine may take (default 10 s).</summary>
    public TimeSpan EngineConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Also serve the standard <c>grpc.health.v1.Health</c> service. Default <see langword="true"/>.</summary>
    public bool MapHealthService { get; set; } = true;

    /// <summary>What clients may choose through routing hints, and engine pools.</summary>
    public GatewayRoutingOptions Routing { get; set; } = new();

    /// <summary>Session expiry.</summary>
    public GatewaySessionOptions Sessions { get; set; } = new();

    /// <summary>Health probing of the engines in use.</summary>
    public EngineHealthOptions Health { get; set; } = new();

    /// <summary>Per-user and per-address limits and deny lists.</summary>
    public GatewayLimitOptions Limits { get; set; } = new();

    /// <summary>Who may use which engines, and which Spark confs clients may set or see.</summary>
    public GatewayAuthorizationOptions Authorization { get; set; } = new();

    /// <summary>
    /// On shutdown, how long running calls (for example long ExecutePlan streams) may continue before they are
    /// cancelled with <c>UNAVAILABLE</c> (clients reattach elsewhere). Default 30 s.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// On shutdown, how long the gateway keeps its listeners open after readiness (<c>/readyz</c> and the gRPC health
    /// service) has turned to not ready, so a load balancer that polls readiness takes the instance out of rotation
    /// before it stops accepting connections; new calls in that time get <c>UNAVAILABLE</c>, which clients retry.
    /// Default 0 (no delay): set it to a little more than the load balancer's readiness poll interval.
    /// </summary>
    public TimeSpan ShutdownDelay { get; set; }

    /// <summary>Who may use the admin API and the dashboard of the management endpoint.</summary>
    public GatewayAdminOptions Admin { get; set; } = new();
}

/// <summary>
/// Administrators of the management endpoint (<c>SparkConnectGateway:Admin</c>): they authenticate as any user does
/// (tokens, JWT, client certificates, host schemes) and must be named here, by user or by group. With neither list
/// set nobody is an administrator, and the admin API answers 403 to everyone.
/// </summary>
public sealed class GatewayAdminOptions
{
    /// <summary>User names that are administrators.</summary>
    public IList<string> Users { get; } = [];

    /// <summary>Groups whose members are administrators.</summary>
    public IList<string> Groups { get; } = [];
}

/// <summary>Engine key choices (<c>SparkConnectGateway:Routing</c>).</summary>
public sealed class GatewayRoutingOptions
{
    /// <summary>
    /// Share levels a client may ask for with the <c>share_level</c> hint (<c>;share_level=CONNECTION</c> in the
    /// <c>sc://</c> string), besides the default. Default: <c>Connection</c> and <c>User</c>. GROUP and SERVER also
    /// need <see cref="SparkConnectGatewayOptions.AllowSharedEngines"/>.
    /// </summary>
    public IList<ShareLevel> AllowedShareLevels { get; } = [];

    /// <summary>Whether clients may choose a subdomain with the <c>subdomain</c> hint. Default <see langword="true"/>.</summary>
    public bool AllowClientSubdomain { get; set; } = true;

    /// <summary>
    /// Engine pool size: when above zero, a session without a subdomain hint goes to subdomain <c>pool-k</c>
    /// (k in 0..size-1), spreading one owner's sessions over several engines. Default 0 (no pool).
    /// </summary>
    public int PoolSize { get; set; }

    /// <summary>How a pool member is picked: <see cref="EnginePoolSelection.Random"/> (default) or round-robin.</summary>
    public EnginePoolSelection PoolSelection { get; set; } = EnginePoolSelection.Random;
}

/// <summary>How a session picks an engine of a pool.</summary>
public enum EnginePoolSelection
{
    /// <summary>Uniformly at random.</summary>
    Random,

    /// <summary>In turn, per gateway instance.</summary>
    RoundRobin,
}

/// <summary>Session expiry (<c>SparkConnectGateway:Sessions</c>).</summary>
public sealed class GatewaySessionOptions
{
    /// <summary>
    /// A session with no call and no running stream for this long is released on its engine and forgotten.
    /// Default 60 min; <see cref="TimeSpan.Zero"/> turns expiry off.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(60);

    /// <summary>
    /// How often idle sessions are looked for. Default 1 min. With a session store shared by several gateway
    /// instances, keep it well under <see cref="IdleTimeout"/>: each scan is also when an instance tells the others
    /// that its sessions with running streams are in use.
    /// </summary>
    public TimeSpan ExpiryScanInterval { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Health probing (<c>SparkConnectGateway:Health</c>).</summary>
public sealed class EngineHealthOptions
{
    /// <summary>How often every engine in use is probed with a Spark Connect Config call. Default 30 s; <see cref="TimeSpan.Zero"/> turns probing off.</summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one probe may take. Default 10 s.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Consecutive failed probes after which an engine is lost: its sessions are released. Default 2.</summary>
    public int FailuresBeforeLost { get; set; } = 2;
}

/// <summary>
/// Limits (<c>SparkConnectGateway:Limits</c>); 0 means unlimited. Counted per gateway instance (a shared session store
/// may count them across instances instead). Over a limit the client gets <c>RESOURCE_EXHAUSTED</c>, a denied user or
/// address <c>PERMISSION_DENIED</c> — never <c>UNAVAILABLE</c>, which clients would retry. The per-user limits can
/// differ by user or group (<see cref="Users"/>, <see cref="Groups"/>).
/// </summary>
public sealed class GatewayLimitOptions
{
    /// <summary>Open sessions per user.</summary>
    public int MaxSessionsPerUser { get; set; }

    /// <summary>Open sessions per client IP address.</summary>
    public int MaxSessionsPerClientAddress { get; set; }

    /// <summary>Open sessions per user and client IP address.</summary>
    public int MaxSessionsPerUserAndAddress { get; set; }

    /// <summary>Running ExecutePlan and ReattachExecute calls per user.</summary>
    public int MaxConcurrentExecutionsPerUser { get; set; }

    /// <summary>
    /// Calls per second per user, as a token bucket that refills at this rate and holds <see cref="CallBurstPerUser"/>
    /// calls. Over it a call gets <c>RESOURCE_EXHAUSTED</c> with <c>google.rpc.RetryInfo</c> saying when the next call
    /// fits, which Spark clients honour by waiting and retrying.
    /// </summary>
    public int CallsPerSecondPerUser { get; set; }

    /// <summary>How many calls a user may make at once, above the rate (the bucket's size); 0 (default): one second's worth.</summary>
    public int CallBurstPerUser { get; set; }

    /// <summary>
    /// Calls per second per client IP address, all users together, checked before authentication (so it also bounds
    /// what unauthenticated clients cost); a token bucket like <see cref="CallsPerSecondPerUser"/>.
    /// </summary>
    public int CallsPerSecondPerClientAddress { get; set; }

    /// <summary>How many calls one client address may make at once, above the rate; 0 (default): one second's worth.</summary>
    public int CallBurstPerClientAddress { get; set; }

    /// <summary>
    /// Per-user limits for particular users, by user name: what an entry sets replaces the general per-user limit
    /// for that user; what it leaves unset stays general. Checked before <see cref="Groups"/>.
    /// </summary>
    public IDictionary<string, UserLimitOptions> Users { get; } = new Dictionary<string, UserLimitOptions>(StringComparer.Ordinal);

    /// <summary>
    /// Per-user limits for the members of a group, by group name: a user without an entry in <see cref="Users"/>
    /// takes the entry of the first of its groups (in the order the authenticator lists them) that has one.
    /// </summary>
    public IDictionary<string, UserLimitOptions> Groups { get; } = new Dictionary<string, UserLimitOptions>(StringComparer.Ordinal);

    /// <summary>Users refused outright.</summary>
    public IList<string> DeniedUsers { get; } = [];

    /// <summary>Client addresses refused outright: IP addresses or CIDR ranges such as <c>10.1.0.0/16</c>.</summary>
    public IList<string> DeniedClientAddresses { get; } = [];
}

/// <summary>
/// The per-user limits of one user or group (<c>SparkConnectGateway:Limits:Users:&lt;name&gt;</c> or
/// <c>...:Groups:&lt;name&gt;</c>); an unset value keeps the general limit, 0 means unlimited.
/// </summary>
public sealed class UserLimitOptions
{
    /// <summary>Open sessions; replaces <see cref="GatewayLimitOptions.MaxSessionsPerUser"/>.</summary>
    public int? MaxSessions { get; set; }

    /// <summary>Running executions; replaces <see cref="GatewayLimitOptions.MaxConcurrentExecutionsPerUser"/>.</summary>
    public int? MaxConcurrentExecutions { get; set; }

    /// <summary>Calls per second; replaces <see cref="GatewayLimitOptions.CallsPerSecondPerUser"/>.</summary>
    public int? CallsPerSecond { get; set; }

    /// <summary>Calls at once above the rate; replaces <see cref="GatewayLimitOptions.CallBurstPerUser"/>.</summary>
    public int? CallBurst { get; set; }
}

/// <summary>Settings of the built-in authenticators (<c>SparkConnectGateway:Authentication</c>).</summary>
public sealed class GatewayAuthenticationOptions
{
    /// <summary>
    /// <see cref="GatewayAuthenticationMode.Tokens"/> (default) checks bearer tokens against <see cref="Tokens"/> and
    /// any authenticators the host added; <see cref="GatewayAuthenticationMode.None"/> trusts the client's
    /// <c>user_context.user_id</c> and is meant for trials only.
    /// </summary>
    public GatewayAuthenticationMode Mode { get; set; } = GatewayAuthenticationMode.Tokens;

    /// <summary>Static bearer tokens and the user each one authenticates.</summary>
    public IList<StaticTokenOptions> Tokens { get; } = [];

    /// <summary>Throttling of failed authentication per client address.</summary>
    public AuthenticationThrottleOptions Throttle { get; set; } = new();
}

/// <summary>
/// Throttling of failed authentication (<c>SparkConnectGateway:Authentication:Throttle</c>). A failure is a call that
/// presented a credential (a token, a password, a client certificate) the gateway refused; a call with no
/// credential at all is not a guess and is not counted, and trial mode never throttles. After
/// <see cref="MaxFailures"/> failures for one claimed user from one address within <see cref="Window"/>, that user's
/// calls from that address are refused at once, without asking any authenticator (or its directory); after
/// <see cref="MaxFailuresPerAddress"/> failures from one address, whatever the user, every call from it is.
/// </summary>
public sealed class AuthenticationThrottleOptions
{
    /// <summary>Failures allowed per claimed user and client address per window; 0 turns this limit off. Default 10.</summary>
    public int MaxFailures { get; set; } = 10;

    /// <summary>
    /// Failures allowed per client address per window, all users together; 0 turns this limit off. Default 100 —
    /// well above <see cref="MaxFailures"/>, since many users may share one address (NAT, a load balancer).
    /// </summary>
    public int MaxFailuresPerAddress { get; set; } = 100;

    /// <summary>The window. Default 1 min.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>The built-in authentication modes.</summary>
public enum GatewayAuthenticationMode
{
    /// <summary>Bearer tokens, checked by the host's authenticators and then the configured static tokens.</summary>
    Tokens,

    /// <summary>No authentication: the user is whatever <c>user_context.user_id</c> the client sends. Trials only.</summary>
    None,
}

/// <summary>One static bearer token.</summary>
public sealed class StaticTokenOptions
{
    /// <summary>The secret token clients send as <c>authorization: Bearer</c> (<c>;token=</c> in an <c>sc://</c> string).</summary>
    public string Token { get; set; } = "";

    /// <summary>
    /// Instead of <see cref="Token"/>: the token's SHA-256 digest as 64 hex digits (<c>printf %s "$TOKEN" | sha256sum</c>),
    /// so configuration holds no secret.
    /// </summary>
    public string TokenSha256 { get; set; } = "";

    /// <summary>The user the token authenticates.</summary>
    public string User { get; set; } = "";

    /// <summary>The user's groups, primary group first.</summary>
    public IList<string> Groups { get; } = [];
}

/// <summary>Engines of the built-in static locator (<c>SparkConnectGateway:Engines</c>).</summary>
public sealed class StaticEnginesOptions
{
    /// <summary>The engine for users without an entry of their own or of a group.</summary>
    public StaticEngineOptions? Default { get; set; }

    /// <summary>Engines by user name; checked first.</summary>
    public IDictionary<string, StaticEngineOptions> Users { get; } = new Dictionary<string, StaticEngineOptions>(StringComparer.Ordinal);

    /// <summary>Engines by group name; checked in the order of the user's groups, after <see cref="Users"/>.</summary>
    public IDictionary<string, StaticEngineOptions> Groups { get; } = new Dictionary<string, StaticEngineOptions>(StringComparer.Ordinal);
}

/// <summary>One statically configured engine.</summary>
public sealed class StaticEngineOptions
{
    /// <summary>The engine's address, <c>http://host:port</c> (HTTP/2 cleartext) or <c>https://host:port</c>.</summary>
    public string Address { get; set; } = "";

    /// <summary>A token to present to the engine as <c>authorization: Bearer</c>; optional.</summary>
    public string? Token { get; set; }

    /// <summary>A PEM file of the certificate authorities that sign an <c>https</c> engine's certificate, when the machine does not trust it; optional.</summary>
    public string? CertificateAuthorityPath { get; set; }
}

/// <summary>Authorization (<c>SparkConnectGateway:Authorization</c>).</summary>
public sealed class GatewayAuthorizationOptions
{
    /// <summary>
    /// Which principals may open sessions on which engine keys and engines. Empty (default): everyone may use what
    /// routing allows. Otherwise a new session needs one rule that matches its user or one of its groups and its
    /// share level, subdomain and engine; anyone else gets <c>PERMISSION_DENIED</c>.
    /// </summary>
    public IList<AuthorizationRule> Rules { get; } = [];

    /// <summary>
    /// Spark conf keys clients may not set or unset through the Config RPC (patterns, <c>*</c> matches any text,
    /// case-insensitive), e.g. <c>spark.driver.*</c>: such a call gets <c>PERMISSION_DENIED</c> naming the key.
    /// </summary>
    public IList<string> DeniedConfigKeys { get; } = [];

    /// <summary>
    /// Spark conf keys removed from Config responses, in addition to the built-in ones
    /// (<c>spark.connect.authenticate.token</c>, <c>*password*</c>, <c>*secret*</c>, <c>*credential*</c>), so secrets in a
    /// driver's configuration never reach clients.
    /// </summary>
    public IList<string> HiddenConfigKeys { get; } = [];

    /// <summary>
    /// Methods Spark may add after this gateway was built that are forwarded while <see cref="DeniedConfigKeys"/> is
    /// set (exact names, e.g. <c>GetStatus2</c>). Empty (default): with a conf deny-list, a method the gateway does not
    /// know gets <c>PERMISSION_DENIED</c>, since it could change confs in ways the gateway cannot see.
    /// </summary>
    public IList<string> AllowedUnknownMethods { get; } = [];
}

/// <summary>One authorization rule; an empty list matches anything.</summary>
public sealed class AuthorizationRule
{
    /// <summary>Users the rule applies to (<c>*</c> for all).</summary>
    public IList<string> Users { get; } = [];

    /// <summary>Groups the rule applies to.</summary>
    public IList<string> Groups { get; } = [];

    /// <summary>Share levels allowed.</summary>
    public IList<ShareLevel> ShareLevels { get; } = [];

    /// <summary>Subdomain patterns allowed (<c>*</c> matches any text).</summary>
    public IList<string> Subdomains { get; } = [];

    /// <summary>Engine id patterns allowed (<c>*</c> matches any text), e.g. <c>static:group:*</c>.</summary>
    public IList<string> Engines { get; } = [];
}
