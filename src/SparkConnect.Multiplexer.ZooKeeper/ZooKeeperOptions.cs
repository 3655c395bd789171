namespace SparkConnect.Multiplexer.ZooKeeper;

/// <summary>
/// Settings of the ZooKeeper integration (<c>AddZooKeeperEngines()</c>, <c>AddZooKeeperDiscovery()</c>), bound from the
/// <c>SparkConnectGateway:ZooKeeper</c> configuration section and validated at start-up.
/// </summary>
/// <remarks>
/// Engines are found where Apache Kyuubi registers them: under the engine space
/// <c>/{Namespace}_{EngineVersion}_{SHARELEVEL}_{EngineType}/{owner}/{subdomain}</c>, one ephemeral-sequential child per
/// engine named <c>serverUri=host:port;version=V;...;sequence=NNNNNNNNNN</c> that also carries
/// <c>sparkConnectPort=P</c> (the engine's Spark Connect port on the <c>serverUri</c> host) or
/// <c>sparkConnectUri=host:port</c>.
/// </remarks>
public sealed class ZooKeeperOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = SparkConnectGatewayOptions.SectionName + ":ZooKeeper";

    /// <summary>
    /// The ZooKeeper ensemble: <c>host:port[,host:port...]</c>, optionally followed by a chroot (<c>/path</c>).
    /// Required, for example <c>zk1:2181,zk2:2181,zk3:2181</c>.
    /// </summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>The ZooKeeper session timeout (default 60 s, as Kyuubi). Ephemeral nodes of a gateway that dies go away after it.</summary>
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long start-up waits for the first connection to ZooKeeper before it fails (default 15 s).</summary>
    public TimeSpan ConnectionTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The full path of the ZooKeeper C client library, when it is not installed where the loader finds it (default:
    /// search <c>libzookeeper_mt.so.2</c>, <c>libzookeeper_mt.so</c>, or <c>libzookeeper_mt.dylib</c> on macOS).
    /// </summary>
    public string? NativeLibraryPath { get; set; }

    /// <summary>The first part of the engine space name, Kyuubi's <c>kyuubi.ha.namespace</c>. Default <c>kyuubi</c>.</summary>
    public string Namespace { get; set; } = "kyuubi";

    /// <summary>
    /// The version part of the engine space name: the Kyuubi version the engines registered with (Kyuubi's engine spaces
    /// are per server version). Default <c>1.10.0</c>; set it to your Kyuubi version.
    /// </summary>
    public string EngineVersion { get; set; } = "1.10.0";

    /// <summary>The engine type part of the engine space name, Kyuubi's <c>kyuubi.engine.type</c>. Default <c>SPARK_SQL</c>.</summary>
    public string EngineType { get; set; } = "SPARK_SQL";

    /// <summary>Which engine a new session gets when several are registered for its key. Default <see cref="EngineSelectionPolicy.Random"/>.</summary>
    public EngineSelectionPolicy SelectionPolicy { get; set; } = EngineSelectionPolicy.Random;

    /// <summary>
    /// The scheme the gateway uses to reach engines found in ZooKeeper: <c>http</c> (HTTP/2 cleartext, the default) or
    /// <c>https</c>.
    /// </summary>
    public string EngineScheme { get; set; } = "http";

    /// <summary>
    /// When no engine is registered for a key and the launching locator is configured (<c>AddProcessEngines()</c>
    /// called before <c>AddZooKeeperEngines()</c>), launch one under a ZooKeeper lock, so that only one gateway
    /// replica launches it, and register it in the engine space. Default <see langword="true"/>.
    /// </summary>
    public bool LaunchEngines { get; set; } = true;

    /// <summary>
    /// How long a first call waits for the engine of its key to be launched, by this gateway or another replica
    /// (the lock wait included), before it gets <c>UNAVAILABLE</c> (clients retry it). Default 180 s; keep it at least
    /// the launcher's <c>InitializationTimeout</c>.
    /// </summary>
    public TimeSpan LaunchTimeout { get; set; } = TimeSpan.FromSeconds(180);

    /// <summary>
    /// How long an engine whose node disappeared may take to come back under the same <c>engineId</c> — the node of a
    /// launched engine is re-created when its gateway's ZooKeeper session expires — before the engine's sessions are
    /// told "engine lost". New sessions never go to it meanwhile. Default 30 s; <see cref="TimeSpan.Zero"/>: at once.
    /// </summary>
    public TimeSpan LostEngineGracePeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The host written into the nodes of engines this gateway launched (their <c>serverUri</c>); default: the launcher's host.</summary>
    public string? LaunchedEngineHost { get; set; }

    /// <summary>Registers this gateway in ZooKeeper, so clients and load balancers can find the live gateways. Default <see langword="true"/>.</summary>
    public bool RegisterGateway { get; set; } = true;

    /// <summary>The path under which gateways register (one ephemeral-sequential child each). Default <c>/spark_connect_multiplexer</c>.</summary>
    public string GatewayNamespace { get; set; } = "/spark_connect_multiplexer";

    /// <summary>
    /// The <c>host:port</c> this gateway registers as. Default: the first address the server listens on, with a wildcard
    /// host replaced by the machine name.
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>The <c>version=</c> this gateway registers with. Default: the package version.</summary>
    public string? GatewayVersion { get; set; }
}

/// <summary>How a new session's engine is chosen among several registered for its key.</summary>
public enum EngineSelectionPolicy
{
    /// <summary>Any of them, at random (the default).</summary>
    Random,

    /// <summary>The most recently registered (highest sequence number).</summary>
    Newest,

    /// <summary>The one with the fewest sessions bound on this gateway (from the session store).</summary>
    LeastSessions,
}
