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

    /// <summary>How long opening a connection to an engine may take (default 10 s).</summary>
    public TimeSpan EngineConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Also serve the standard <c>grpc.health.v1.Health</c> service. Default <see langword="true"/>.</summary>
    public bool MapHealthService { get; set; } = true;
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
}
