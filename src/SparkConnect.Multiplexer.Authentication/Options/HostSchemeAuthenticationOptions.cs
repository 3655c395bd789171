namespace SparkConnect.Multiplexer.Authentication;

/// <summary>
/// Uses the host's own ASP.NET Core authentication (configuration section
/// <c>SparkConnectGateway:Authentication:HostScheme</c>): JwtBearer, Negotiate/Kerberos, certificate or any custom
/// scheme registered with <c>services.AddAuthentication()</c>.
/// </summary>
public sealed class HostSchemeAuthenticationOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "SparkConnectGateway:Authentication:HostScheme";

    /// <summary>
    /// The schemes to run, in order; the first that authenticates the call decides. Empty (the default): use
    /// <c>HttpContext.User</c> as the host's authentication middleware (<c>app.UseAuthentication()</c>) left it.
    /// </summary>
    public IList<string> Schemes { get; } = [];

    /// <summary>
    /// Claim types that name the user, tried in order. Empty (the default): the identity's name
    /// (<c>ClaimsIdentity.Name</c>, which each scheme maps to its own name claim).
    /// </summary>
    public IList<string> UserClaims { get; } = [];

    /// <summary>
    /// Claim types whose values are the user's groups. Empty (the default) means <c>groups</c> and the role claim
    /// (<c>http://schemas.microsoft.com/ws/2008/06/identity/claims/role</c>).
    /// </summary>
    public IList<string> GroupClaims { get; } = [];
}
