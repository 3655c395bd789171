namespace SparkConnect.Multiplexer.Processes;

/// <summary>
/// Settings of the launching engine locator (<c>AddProcessEngines()</c>), bound from the
/// <c>SparkConnectGateway:ProcessEngines</c> configuration section and validated at start-up. The locator starts one
/// engine process per engine key when none is running, waits until it answers Spark Connect calls, and stops it when
/// it has had no session for <see cref="EngineIdleTimeout"/>.
/// </summary>
/// <remarks>
/// <see cref="Arguments"/>, <see cref="ProxyUserArguments"/>, the values of <see cref="Confs"/> and
/// <see cref="Environment"/> are templates; these placeholders are replaced per engine: <c>{port}</c> (a free TCP
/// port the gateway picked), <c>{host}</c> (<see cref="Host"/>), <c>{user}</c> (the user the engine runs for: the
/// session's user for CONNECTION and USER engines, the group for GROUP engines as in Apache Kyuubi, the gateway's OS
/// user for SERVER engines), <c>{owner}</c>, <c>{shareLevel}</c> and <c>{subdomain}</c> (the engine key),
/// <c>{engineId}</c> and <c>{workDir}</c> (the engine's working directory).
/// </remarks>
public sealed class ProcessEngineOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = SparkConnectGatewayOptions.SectionName + ":ProcessEngines";

    /// <summary>The arguments used for <see cref="ProxyUserArguments"/> when it is not set: <c>--proxy-user {user}</c>.</summary>
    public static IReadOnlyList<string> DefaultProxyUserArguments { get; } = ["--proxy-user", "{user}"];

    /// <summary>
    /// The executable that starts an engine, for example <c>/opt/spark/sbin/start-connect-server.sh</c> (with
    /// <c>SPARK_NO_DAEMONIZE=1</c> in <see cref="Environment"/>, so it stays in the foreground) or <c>spark-submit</c>.
    /// Required. Run directly, not through a shell.
    /// </summary>
    public string Command { get; set; } = "";

    /// <summary>
    /// Argument templates passed to <see cref="Command"/>, first. The engine must listen on <c>{host}:{port}</c>, so
    /// <c>{port}</c> must appear here, in <see cref="Confs"/> (for Spark: <c>spark.connect.grpc.binding.port</c>) or in
    /// <see cref="Environment"/>.
    /// </summary>
    public IList<string> Arguments { get; } = [];

    /// <summary>
    /// Appends <see cref="ProxyUserArguments"/> after <see cref="Arguments"/>, so the engine runs as the user it serves
    /// (Spark runs every query as the driver's user). Default <see langword="false"/>. Not applied to SERVER engines.
    /// </summary>
    public bool Impersonation { get; set; }

    /// <summary>
    /// The argument templates added when <see cref="Impersonation"/> is on. When not set (<see langword="null"/>, the
    /// default), <see cref="DefaultProxyUserArguments"/>: <c>--proxy-user {user}</c>.
    /// </summary>
    public IList<string>? ProxyUserArguments { get; set; }

    /// <summary>
    /// Spark confs appended as <c>--conf key=value</c> each (after the proxy-user arguments); values are templates,
    /// for example <c>spark.connect.grpc.binding.port</c> = <c>{port}</c>. Empty by default.
    /// </summary>
    public IDictionary<string, string> Confs { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// The secret <c>{engineToken}</c> is derived from (HMAC-SHA256 of the engine id), instead of a random token per
    /// engine. Required, and the same on every replica, when <c>{engineToken}</c> is used with <c>AddZooKeeperEngines()</c>:
    /// a replica must present the token of an engine another replica launched, and the engine's node in ZooKeeper does
    /// not carry it. At least 32 characters (<c>openssl rand -hex 32</c>); keep it out of source control (an
    /// environment variable <c>SparkConnectGateway__ProcessEngines__EngineTokenSecret</c> or a secret store). Changing it
    /// makes running engines refuse the gateway: restart them with it. Default <see langword="null"/>: a random token per
    /// engine, known only to the gateway that launched it.
    /// </summary>
    public string? EngineTokenSecret { get; set; }

    /// <summary>The argument that precedes each conf. Default <c>--conf</c>.</summary>
    public string ConfArgumentName { get; set; } = "--conf";

    /// <summary>
    /// Spark conf keys a client may set for the engine it causes to be launched: when the first call for an engine key
    /// carries a routing hint (gRPC metadata, <c>;key=value</c> in an <c>sc://</c> connection string) named exactly
    /// like one of these keys (metadata names are case-insensitive), it is appended as a conf, after
    /// <see cref="Confs"/>. Other hints are ignored; a running engine is never changed. Empty by default.
    /// </summary>
    public IList<string> AllowedClientConfs { get; } = [];

    /// <summary>Environment variables set for the engine process, in addition to the gateway's; values are templates.</summary>
    public IDictionary<string, string> Environment { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// The root of the engines' working directories: each engine runs in a subdirectory of its own (named after its
    /// id), where its stdout and stderr are written, line by line, to <c>engine.log</c>. Default
    /// <c>spark-connect-engines</c> under the temporary directory.
    /// </summary>
    public string WorkingDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "spark-connect-engines");

    /// <summary>
    /// How long the working directory of an engine that no longer runs (its log, its <c>engine.json</c>) is kept after
    /// it was last written; older ones are deleted by the idle check. Default 7 days; <see langword="null"/>: kept for
    /// ever.
    /// </summary>
    public TimeSpan? WorkDirectoryRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The address engines listen on, and the gateway connects to. Default <c>127.0.0.1</c>.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>
    /// How long an engine may take, from the request that launches it (waiting for a launch slot included) until it
    /// answers a Spark Connect call; after it the process is killed and the waiting clients get <c>UNAVAILABLE</c> with
    /// the last lines of the engine log. Default 180 s.
    /// </summary>
    public TimeSpan InitializationTimeout { get; set; } = TimeSpan.FromSeconds(180);

    /// <summary>
    /// How long new sessions of an engine key wait after its engine failed to start before the next launch is tried;
    /// doubled for each further failure in a row, up to <see cref="MaxLaunchFailureBackoff"/>, and forgotten once one
    /// starts. Meanwhile the sessions get <c>UNAVAILABLE</c> with the last failure and a <c>RetryInfo</c> of the time
    /// left, so a broken command or template does not start a process on every client retry. Default 10 s;
    /// <see cref="TimeSpan.Zero"/>: every session tries again at once.
    /// </summary>
    public TimeSpan LaunchFailureBackoff { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest wait between launches of a key whose engine keeps failing to start. Default 5 min.</summary>
    public TimeSpan MaxLaunchFailureBackoff { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often a starting engine is asked whether it is ready. Default 1 s.</summary>
    public TimeSpan ReadinessProbeInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many engines may be starting at once, for all keys together. Default 4.</summary>
    public int MaxConcurrentLaunches { get; set; } = 4;

    /// <summary>
    /// The most engine processes this gateway runs (or is starting) at once, for all users together. Default 50;
    /// 0 means no limit. A session that would need one more gets <c>RESOURCE_EXHAUSTED</c> naming this option; the slot
    /// is free again as soon as an engine stops (idle, lost, failed or retired).
    /// </summary>
    /// <remarks>
    /// Each engine is a Spark driver (typically 1-4 GiB and a JVM's threads); 50 is already more than one machine runs
    /// well, and every client can otherwise start engines at will (CONNECTION sessions, subdomains).
    /// </remarks>
    public int MaxEngines { get; set; } = 50;

    /// <summary>
    /// The most engine processes one user's requests may have launched and running (or starting) at once, whatever
    /// their share level: a GROUP or SERVER engine counts for the user whose session caused its launch. Default 5;
    /// 0 means no limit. Over it the session gets <c>RESOURCE_EXHAUSTED</c> naming this option; an engine that
    /// already runs for the session's key is always handed out. An engine past <see cref="MaxEngineLifetime"/> counts
    /// until its last session is gone and it stops, so with a cap of 1 a user waits for that before a fresh engine.
    /// </summary>
    /// <remarks>
    /// 5 leaves room for a user's own engine, a few subdomains and CONNECTION sessions, while no single user can take
    /// more than a tenth of the default <see cref="MaxEngines"/>.
    /// </remarks>
    public int MaxEnginesPerUser { get; set; } = 5;

    /// <summary>
    /// Key patterns whose values are masked (<c>***</c>) wherever the gateway shows text that came from an engine or
    /// its command line: the command line it logs, and the engine log lines in launch failures (sent to the client and
    /// logged). A pattern is a key name in which <c>*</c> stands for any characters, matched case-insensitively
    /// (<c>*secret*</c> matches <c>spark.hadoop.fs.s3a.secret.key</c>); the forms recognised are <c>k=v</c>,
    /// <c>--conf k=v</c>, <c>-Dk=v</c>, <c>k: v</c>, <c>"k": "v"</c> and <c>--k v</c>. When not set
    /// (<see langword="null"/>, the default), <see cref="DefaultRedactedKeyPatterns"/>. Setting it replaces the
    /// defaults. Whatever it holds, the engine's own token, <c>Bearer</c>/<c>Basic</c> credentials and URL passwords
    /// are always masked.
    /// </summary>
    public IList<string>? RedactedKeyPatterns { get; set; }

    /// <summary>
    /// The patterns used for <see cref="RedactedKeyPatterns"/> when it is not set: <c>*key*</c> (credentials such as
    /// <c>access.key</c>, <c>secret.key</c>), <c>*token*</c>, <c>*secret*</c>, <c>*password*</c>, <c>*credential*</c>.
    /// </summary>
    public static IReadOnlyList<string> DefaultRedactedKeyPatterns => SparkConnect.Multiplexer.SecretRedactor.DefaultKeyPatterns;

    /// <summary>
    /// How long a launched engine may have no session before it is stopped (gracefully, then killed after
    /// <see cref="StopGracePeriod"/>). Default 30 min.
    /// </summary>
    public TimeSpan EngineIdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// How long an engine serves new sessions; after it, new sessions for its key get a freshly launched engine and the
    /// old one is stopped once its last session is gone. Default <see langword="null"/>: no limit.
    /// </summary>
    public TimeSpan? MaxEngineLifetime { get; set; }

    /// <summary>
    /// How long a stopping engine has between SIGTERM and being killed with its process tree. Default 15 s.
    /// </summary>
    public TimeSpan StopGracePeriod { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often engines are checked for idleness and lifetime. Default 30 s.</summary>
    public TimeSpan IdleCheckInterval { get; set; } = TimeSpan.FromSeconds(30);
}
