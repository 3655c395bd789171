using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Authentication.Tests.HostSchemes;

/// <summary>
/// A host's custom ASP.NET Core scheme: <c>x-test-user</c> names the user, <c>x-test-groups</c> (comma-separated)
/// the roles; <c>x-test-user: !fail</c> fails with a message that quotes a secret.
/// </summary>
internal sealed class HeaderAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Header";
    public const string SecretInFailure = "secret-ticket-123";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var user = Request.Headers["x-test-user"].ToString();
        if (user.Length == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (user == "!fail")
        {
            return Task.FromResult(AuthenticateResult.Fail("ticket " + SecretInFailure + " is not valid"));
        }

        var claims = new List<Claim> { new(ClaimTypes.Name, user), new("employee_id", "e-" + user) };
        claims.AddRange(Request.Headers["x-test-groups"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(g => new Claim(ClaimTypes.Role, g)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, Scheme.Name));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name)));
    }
}
