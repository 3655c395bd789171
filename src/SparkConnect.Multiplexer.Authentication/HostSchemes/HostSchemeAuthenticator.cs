using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Authentication.Internal;

namespace SparkConnect.Multiplexer.Authentication.HostSchemes;

/// <summary>
/// Runs the host's ASP.NET Core authentication schemes (or takes <c>HttpContext.User</c> as the host's middleware
/// left it) and maps the claims to a gateway principal. No scheme recognising the call leaves it to the next
/// authenticator; a scheme that fails refuses it.
/// </summary>
internal sealed class HostSchemeAuthenticator(IOptions<HostSchemeAuthenticationOptions> options, ILogger<HostSchemeAuthenticator> logger) : IAuthenticator
{
    private static readonly string[] DefaultGroupClaims = ["groups", ClaimTypes.Role];

    private readonly HostSchemeAuthenticationOptions _options = options.Value;

    public async ValueTask<AuthenticationResult> AuthenticateAsync(AuthenticationContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var httpContext = context.HttpContext;

        if (_options.Schemes.Count == 0)
        {
            return httpContext.User.Identities.Any(i => i.IsAuthenticated) ? Map(context, httpContext.User) : AuthenticationResult.NoResult();
        }

        foreach (var scheme in _options.Schemes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            AuthenticateResult result;
            try
            {
                result = await httpContext.AuthenticateAsync(scheme).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                AuthenticationLog.HostSchemeFailed(logger, scheme, e);
                return AuthenticationResult.Unavailable("authentication service unreachable");
            }

            if (result.Succeeded)
            {
                return Map(context, result.Principal);
            }

            if (result.Failure is not null)
            {
                // The handler's message may quote the credential: log it, send the client the scheme only.
                AuthenticationLog.HostSchemeRefused(logger, scheme, context.PeerAddress, result.Failure.Message);
                return AuthenticationResult.Refuse($"authentication failed ({scheme})");
            }
        }

        return AuthenticationResult.NoResult();
    }

    private AuthenticationResult Map(AuthenticationContext context, ClaimsPrincipal user)
    {
        string? name;
        if (_options.UserClaims.Count == 0)
        {
            name = user.Identities.FirstOrDefault(i => i.IsAuthenticated && !string.IsNullOrWhiteSpace(i.Name))?.Name;
        }
        else
        {
            name = _options.UserClaims.Select(t => user.FindFirst(t)?.Value).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
        }

        if (string.IsNullOrWhiteSpace(name))
        {
            var claims = _options.UserClaims.Count == 0 ? "(identity name)" : string.Join(", ", _options.UserClaims);
            AuthenticationLog.HostSchemeNoUser(logger, context.PeerAddress, claims);
            return AuthenticationResult.Refuse("authenticated, but no claim names the user");
        }

        var groupClaims = _options.GroupClaims.Count == 0 ? DefaultGroupClaims : (IEnumerable<string>)_options.GroupClaims;
        var groups = groupClaims
            .SelectMany(t => user.FindAll(t).Select(c => c.Value))
            .Where(v => !string.IsNullOrWhiteSpace(v))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        return AuthenticationResult.Success(new GatewayPrincipal(name, groups));
    }
}
