namespace SparkConnect.Multiplexer.Authentication;

/// <summary>
/// JWT / OIDC bearer tokens (configuration section <c>SparkConnectGateway:Authentication:Jwt</c>). A bearer token
/// that is not a JWT is left to the next authenticator (for example the static tokens); a JWT that fails validation
/// is refused.
/// </summary>
public sealed class JwtAuthenticationOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "SparkConnectGateway:Authentication:Jwt";

    /// <summary>Accepted <c>iss</c> values (at least one), for example <c>https://login.example.org/realms/spark</c>.</summary>
    public IList<string> Issuers { get; } = [];

    /// <summary>Accepted <c>aud</c> values (at least one), for example <c>spark-connect</c>.</summary>
    public IList<string> Audiences { get; } = [];

    /// <summary>
    /// Signing keys given inline: each entry is a PEM public key (RSA or EC), a PEM certificate, or a JWK (JSON
    /// object). Used together with the keys of <see cref="JwksUrl"/>. Default: none.
    /// </summary>
    public IList<string> SigningKeys { get; } = [];

    /// <summary>
    /// The identity provider's JSON Web Key Set, for example <c>https://login.example.org/realms/spark/protocol/openid-connect/certs</c>.
    /// Fetched on first use, cached for <see cref="JwksCacheDuration"/>, fetched again when a token names a key id
    /// the cache does not know (at most once per <see cref="JwksMinimumRefreshInterval"/>). Default: none.
    /// </summary>
    public Uri? JwksUrl { get; set; }

    /// <summary>Whether <see cref="JwksUrl"/> must be <c>https</c>. Default <see langword="true"/>; turn off only for loopback tests.</summary>
    public bool RequireHttpsJwksUrl { get; set; } = true;

    /// <summary>How long fetched keys are used before they are fetched again. Default 1 hour.</summary>
    public TimeSpan JwksCacheDuration { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// The least time between two fetches of <see cref="JwksUrl"/>, so tokens with made-up key ids cannot make the
    /// gateway hammer the identity provider. Default 30 seconds.
    /// </summary>
    public TimeSpan JwksMinimumRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one fetch of <see cref="JwksUrl"/> may take. Default 10 seconds.</summary>
    public TimeSpan JwksFetchTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The largest JWKS document taken from <see cref="JwksUrl"/>, in bytes (after any content decoding). A larger one
    /// is not read past the limit, is logged as an error (event 106) and counts as a failed fetch: the keys already
    /// known stay in use, and with none the call is <c>UNAVAILABLE</c>. Default 1 MiB (1048576), ample for hundreds
    /// of keys; between 1 and 67108864 (64 MiB).
    /// </summary>
    public long JwksMaxResponseBytes { get; set; } = 1024 * 1024;

    /// <summary>Tolerance for <c>exp</c> and <c>nbf</c> against this machine's clock. Default 2 minutes.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Whether a token must carry <c>exp</c>. Default <see langword="true"/>.</summary>
    public bool RequireExpirationTime { get; set; } = true;

    /// <summary>
    /// The claim that names the user. Empty (the default) means <c>sub</c>, which the identity provider assigns and
    /// users cannot change. Set <c>preferred_username</c> for readable user names only when your identity provider
    /// does not let users edit it. A token without the claim is refused. Only the first entry is used unless
    /// <see cref="AllowUserClaimFallback"/> is on.
    /// </summary>
    public IList<string> UserClaims { get; } = [];

    /// <summary>
    /// Whether a token without the first of <see cref="UserClaims"/> is named by the next one present. Default
    /// <see langword="false"/>: a fallback mixes two namespaces, so a token whose <c>sub</c> is missing could be named
    /// after another user's <c>sub</c>, or by a claim the user edits (<c>preferred_username</c>, <c>email</c>).
    /// Turn on only when every listed claim is assigned by the identity provider and unique across them.
    /// </summary>
    public bool AllowUserClaimFallback { get; set; }

    /// <summary>The claim that lists the user's groups (a JSON array or a single string). Default <c>groups</c>; empty for none.</summary>
    public string GroupsClaim { get; set; } = "groups";
}
