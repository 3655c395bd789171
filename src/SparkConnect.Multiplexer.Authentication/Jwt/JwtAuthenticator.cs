using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using SparkConnect.Multiplexer.Authentication.Internal;

namespace SparkConnect.Multiplexer.Authentication.Jwt;

/// <summary>
/// Validates a bearer JWT: signature (configured keys and JWKS), issuer, audience and lifetime. A bearer token that is
/// not a JWT is left to the next authenticator; a JWT that fails is refused with the kind of failure, never the token.
/// </summary>
internal sealed class JwtAuthenticator : IAuthenticator
{
    private readonly JwtAuthenticationOptions _options;
    private readonly JwksKeyCache? _jwks;
    private readonly ILogger<JwtAuthenticator> _logger;
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly SecurityKey[] _configuredKeys;
    private readonly string[] _userClaims;

    public JwtAuthenticator(IOptions<JwtAuthenticationOptions> options, IServiceProvider services, ILogger<JwtAuthenticator> logger)
    {
        _options = options.Value;
        _jwks = _options.JwksUrl is null ? null : services.GetRequiredService<JwksKeyCache>();
        _logger = logger;
        _configuredKeys = [.. _options.SigningKeys.Select(k => SigningKeyParser.TryParse(k, out var key, out _) ? key : null).OfType<SecurityKey>()];
        _userClaims = _options.UserClaims.Count == 0 ? ["sub"] : _options.AllowUserClaimFallback ? [.. _options.UserClaims] : [_options.UserClaims[0]];
    }

    public string? CredentialHint => "add ;token=<your JWT> to the sc:// connection string (it is sent as 'authorization: Bearer <JWT>')";

    public async ValueTask<AuthenticationResult> AuthenticateAsync(AuthenticationContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.BearerToken is not { } token || !LooksLikeJws(token) || !_handler.CanReadToken(token))
        {
            return AuthenticationResult.NoResult();
        }

        JsonWebToken jwt;
        try
        {
            jwt = _handler.ReadJsonWebToken(token);
        }
        catch (ArgumentException)
        {
            return AuthenticationResult.NoResult();
        }

        var keys = new List<SecurityKey>(_configuredKeys);
        if (_jwks is not null)
        {
            var fetched = await _jwks.GetKeysAsync(jwt.Kid, cancellationToken).ConfigureAwait(false);
            if (fetched.Count == 0 && _configuredKeys.Length == 0)
            {
                return AuthenticationResult.Unavailable("authentication service unreachable: the identity provider's signing keys could not be fetched");
            }

            keys.AddRange(fetched);
        }

        var parameters = new TokenValidationParameters
        {
            ValidIssuers = _options.Issuers,
            ValidAudiences = _options.Audiences,
            IssuerSigningKeys = keys,
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateLifetime = true,
            ValidateIssuerSigningKey = true,
            RequireSignedTokens = true,
            RequireExpirationTime = _options.RequireExpirationTime,
            ClockSkew = _options.ClockSkew,
            TryAllIssuerSigningKeys = true,
        };

        var result = await _handler.ValidateTokenAsync(jwt, parameters).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        if (!result.IsValid)
        {
            var reason = "JWT refused: " + Describe(result.Exception);
            AuthenticationLog.JwtRefused(_logger, context.PeerAddress, reason);
            return AuthenticationResult.Refuse(reason);
        }

        var (claim, user) = _userClaims.Select(c => (c, ClaimString(jwt, c))).FirstOrDefault(v => !string.IsNullOrEmpty(v.Item2));
        if (user is null)
        {
            var reason = _userClaims.Length == 1
                ? $"JWT refused: the token has no '{_userClaims[0]}' claim to name the user"
                : $"JWT refused: the token has none of the user claims ({string.Join(", ", _userClaims)})";
            AuthenticationLog.JwtRefused(_logger, context.PeerAddress, reason);
            return AuthenticationResult.Refuse(reason);
        }

        if (!UserNames.IsPlain(user))
        {
            var reason = $"JWT refused: the '{claim}' claim is not a plain user name (empty, too long, surrounding spaces or control characters)";
            AuthenticationLog.JwtRefused(_logger, context.PeerAddress, reason);
            return AuthenticationResult.Refuse(reason);
        }

        AuthenticationLog.JwtAuthenticated(_logger, user);
        return AuthenticationResult.Success(new GatewayPrincipal(user, Groups(jwt)));
    }

    /// <summary>Compact JWS: three base64url parts (a JWE has five and is not supported).</summary>
    private static bool LooksLikeJws(string token) => token.Count(c => c == '.') == 2 && token.StartsWith("ey", StringComparison.Ordinal);

    private static string Describe(Exception? exception) => exception switch
    {
        SecurityTokenExpiredException => "token expired",
        SecurityTokenNotYetValidException => "token not yet valid",
        SecurityTokenNoExpirationException => "token has no expiry",
        SecurityTokenInvalidLifetimeException => "token lifetime not valid",
        SecurityTokenInvalidAudienceException => "wrong audience",
        SecurityTokenInvalidIssuerException => "wrong issuer",
        SecurityTokenSignatureKeyNotFoundException => "signing key not found",
        SecurityTokenInvalidSignatureException => "signature not valid",
        SecurityTokenInvalidAlgorithmException => "signing algorithm not allowed",
        _ => "token not valid",
    };

    private static string? ClaimString(JsonWebToken jwt, string claim)
        => jwt.Claims.FirstOrDefault(c => c.Type == claim)?.Value;

    private List<string> Groups(JsonWebToken jwt)
    {
        var groups = new List<string>();
        if (string.IsNullOrWhiteSpace(_options.GroupsClaim))
        {
            return groups;
        }

        foreach (var claim in jwt.Claims)
        {
            if (claim.Type == _options.GroupsClaim && !string.IsNullOrWhiteSpace(claim.Value))
            {
                groups.Add(claim.Value);
            }
        }

        return groups;
    }
}
