using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Authentication.Jwt;

namespace SparkConnect.Multiplexer.Authentication;

/// <summary>Checks the JWT options at start-up and lists every problem with its fix.</summary>
internal sealed class JwtAuthenticationOptionsValidator : IValidateOptions<JwtAuthenticationOptions>
{
    private const string Section = JwtAuthenticationOptions.SectionName;
    private const long MaxJwksResponseBytes = 64L * 1024 * 1024;

    public ValidateOptionsResult Validate(string? name, JwtAuthenticationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();

        if (!options.Issuers.Any(i => !string.IsNullOrWhiteSpace(i)))
        {
            errors.Add($"{Section}:Issuers is empty: add the identity provider's issuer (the tokens' 'iss' claim), e.g. {Section}:Issuers:0 = https://login.example.org/realms/spark.");
        }

        if (!options.Audiences.Any(a => !string.IsNullOrWhiteSpace(a)))
        {
            errors.Add($"{Section}:Audiences is empty: add the audience the identity provider puts in the gateway's tokens ('aud'), e.g. {Section}:Audiences:0 = spark-connect.");
        }

        if (options.JwksUrl is null && options.SigningKeys.Count == 0)
        {
            errors.Add($"No signing keys: set {Section}:JwksUrl to the identity provider's JWKS endpoint, or add PEM/JWK keys under {Section}:SigningKeys.");
        }

        if (options.JwksUrl is { } url)
        {
            if (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
            {
                errors.Add($"{Section}:JwksUrl must be an absolute http(s) URL, e.g. https://login.example.org/realms/spark/protocol/openid-connect/certs.");
            }
            else if (url.Scheme != Uri.UriSchemeHttps && options.RequireHttpsJwksUrl)
            {
                errors.Add($"{Section}:JwksUrl '{url}' is not https: use the https endpoint, or set {Section}:RequireHttpsJwksUrl = false (loopback tests only).");
            }
        }

        for (var i = 0; i < options.SigningKeys.Count; i++)
        {
            if (!SigningKeyParser.TryParse(options.SigningKeys[i], out _, out var problem))
            {
                errors.Add($"{Section}:SigningKeys:{i} cannot be read ({problem}): give a PEM public key ('-----BEGIN PUBLIC KEY-----'), a PEM certificate or a JWK JSON object.");
            }
        }

        if (options.JwksCacheDuration <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:JwksCacheDuration must be positive, e.g. 01:00:00.");
        }

        if (options.JwksMinimumRefreshInterval < TimeSpan.Zero)
        {
            errors.Add($"{Section}:JwksMinimumRefreshInterval must not be negative, e.g. 00:00:30.");
        }

        if (options.JwksFetchTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:JwksFetchTimeout must be positive, e.g. 00:00:10.");
        }

        if (options.JwksMaxResponseBytes is < 1 or > MaxJwksResponseBytes)
        {
            errors.Add($"{Section}:JwksMaxResponseBytes {options.JwksMaxResponseBytes} is out of range: give a size in bytes between 1 and {MaxJwksResponseBytes}, e.g. 1048576 (1 MiB, the default).");
        }

        if (options.ClockSkew < TimeSpan.Zero || options.ClockSkew > TimeSpan.FromHours(1))
        {
            errors.Add($"{Section}:ClockSkew must be between 00:00:00 and 01:00:00, e.g. 00:02:00.");
        }

        if (options.UserClaims.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add($"{Section}:UserClaims has an empty entry: name a claim such as sub or preferred_username, or remove the entry.");
        }

        if (options.UserClaims.Count > 1 && !options.AllowUserClaimFallback)
        {
            errors.Add($"{Section}:UserClaims lists {options.UserClaims.Count} claims, but a token is named by the first only unless {Section}:AllowUserClaimFallback = true: keep one claim (sub, the default, is assigned by the identity provider), or turn the fallback on if every listed claim is assigned by the identity provider and unique.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
