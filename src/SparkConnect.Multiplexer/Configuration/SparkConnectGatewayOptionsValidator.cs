using SparkConnect.Multiplexer.Admission;
using SparkConnect.Multiplexer.Authenticators;
using SparkConnect.Multiplexer.Sessions;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Configuration;

/// <summary>Collects every configuration error, each with the fix, so one start-up attempt shows them all.</summary>
internal sealed class SparkConnectGatewayOptionsValidator(GatewayRegistrations registrations) : IValidateOptions<SparkConnectGatewayOptions>
{
    private const string Section = SparkConnectGatewayOptions.SectionName;

    // gRPC frames carry a 32-bit length; a gateway buffers one request message, so a gigabyte is already generous.
    private const int MaxMessageSizeLimit = 1024 * 1024 * 1024;

    public ValidateOptionsResult Validate(string? name, SparkConnectGatewayOptions options)
    {
        var errors = new List<string>();

        if (options.MaxMessageSize is <= 0 or > MaxMessageSizeLimit)
        {
            errors.Add($"{Section}:MaxMessageSize is {options.MaxMessageSize}; set a number of bytes from 1 to {MaxMessageSizeLimit} (1 GiB; default {SparkConnectGatewayOptions.DefaultMaxMessageSize}).");
        }

        if (options.EngineConnectTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:EngineConnectTimeout is {options.EngineConnectTimeout}; set a positive duration such as 00:00:10.");
        }

        if (options.DefaultShareLevel is ShareLevel.Group or ShareLevel.Server && !options.AllowSharedEngines)
        {
            errors.Add($"{Section}:DefaultShareLevel is {options.DefaultShareLevel}, which lets users share one Spark driver and its data access; set {Section}:AllowSharedEngines to true to allow it, or use User.");
        }

        ValidateRouting(options, errors);
        ValidateLifecycle(options, errors);
        ValidateAuthentication(options.Authentication, errors);

        if (!registrations.HasCustomEngineLocator)
        {
            ValidateEngines(options.Engines, errors);
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateRouting(SparkConnectGatewayOptions options, List<string> errors)
    {
        if (!options.AllowSharedEngines)
        {
            foreach (var level in options.Routing.AllowedShareLevels.Where(l => l is ShareLevel.Group or ShareLevel.Server).Distinct())
            {
                errors.Add($"{Section}:Routing:AllowedShareLevels contains {level}, which lets users share one Spark driver; set {Section}:AllowSharedEngines to true to allow it, or remove it.");
            }
        }

        if (options.Routing.PoolSize is < 0 or > 1000)
        {
            errors.Add($"{Section}:Routing:PoolSize is {options.Routing.PoolSize}; set 0 (no pool) or a pool size up to 1000.");
        }
    }

    private static void ValidateLifecycle(SparkConnectGatewayOptions options, List<string> errors)
    {
        if (options.Sessions.IdleTimeout < TimeSpan.Zero)
        {
            errors.Add($"{Section}:Sessions:IdleTimeout is negative; set a duration such as 01:00:00, or 00:00:00 to keep idle sessions.");
        }

        if (options.Sessions.ExpiryScanInterval <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:Sessions:ExpiryScanInterval must be positive, such as 00:01:00.");
        }

        if (options.Health.ProbeInterval < TimeSpan.Zero)
        {
            errors.Add($"{Section}:Health:ProbeInterval is {options.Health.ProbeInterval}; set a duration such as 00:00:30, or 00:00:00 to turn probing off.");
        }

        if (options.Health.ProbeTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:Health:ProbeTimeout is {options.Health.ProbeTimeout}; set a positive duration such as 00:00:10.");
        }

        if (options.Health.FailuresBeforeLost < 1)
        {
            errors.Add($"{Section}:Health:FailuresBeforeLost is {options.Health.FailuresBeforeLost}; set 1 or more (default 2).");
        }

        if (options.FirstMessageTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:FirstMessageTimeout must be positive, such as 00:00:30 (how long a call may wait for its first request message).");
        }

        if (options.DrainTimeout < TimeSpan.Zero)
        {
            errors.Add($"{Section}:DrainTimeout is negative; set a duration such as 00:00:30.");
        }

        if (options.ShutdownDelay < TimeSpan.Zero)
        {
            errors.Add($"{Section}:ShutdownDelay is negative; set a duration such as 00:00:10 (a little more than the load balancer's readiness poll interval), or 0.");
        }

        foreach (var (key, names) in new[] { ("Users", options.Admin.Users), ("Groups", options.Admin.Groups) })
        {
            foreach (var name in names)
            {
                if (!GatewayPrincipal.IsPlainUserName(name))
                {
                    errors.Add($"{Section}:Admin:{key} has {Protocol.ClientText.Quote(name)}, which is empty or has control characters or surrounding spaces; write the plain name.");
                }
            }
        }

        var limits = options.Limits;
        foreach (var (key, value) in new[]
        {
            (nameof(limits.MaxSessionsPerUser), limits.MaxSessionsPerUser),
            (nameof(limits.MaxSessionsPerClientAddress), limits.MaxSessionsPerClientAddress),
            (nameof(limits.MaxSessionsPerUserAndAddress), limits.MaxSessionsPerUserAndAddress),
            (nameof(limits.MaxConcurrentExecutionsPerUser), limits.MaxConcurrentExecutionsPerUser),
            (nameof(limits.CallsPerSecondPerUser), limits.CallsPerSecondPerUser),
            (nameof(limits.CallBurstPerUser), limits.CallBurstPerUser),
            (nameof(limits.CallsPerSecondPerClientAddress), limits.CallsPerSecondPerClientAddress),
            (nameof(limits.CallBurstPerClientAddress), limits.CallBurstPerClientAddress),
        })
        {
            if (value < 0)
            {
                errors.Add($"{Section}:Limits:{key} is {value}; set 0 (unlimited) or a positive number.");
            }
        }

        ValidateCallRate($"{Section}:Limits:CallsPerSecondPerUser", limits.CallsPerSecondPerUser, $"{Section}:Limits:CallBurstPerUser", limits.CallBurstPerUser, errors);
        ValidateCallRate($"{Section}:Limits:CallsPerSecondPerClientAddress", limits.CallsPerSecondPerClientAddress, $"{Section}:Limits:CallBurstPerClientAddress", limits.CallBurstPerClientAddress, errors);
        foreach (var (kind, entries) in new[] { ("Users", limits.Users), ("Groups", limits.Groups) })
        {
            foreach (var (name, entry) in entries)
            {
                var path = $"{Section}:Limits:{kind}:{name}";
                if (entry is null)
                {
                    continue;
                }

                foreach (var (key, value) in new[]
                {
                    (nameof(entry.MaxSessions), entry.MaxSessions),
                    (nameof(entry.MaxConcurrentExecutions), entry.MaxConcurrentExecutions),
                    (nameof(entry.CallsPerSecond), entry.CallsPerSecond),
                    (nameof(entry.CallBurst), entry.CallBurst),
                })
                {
                    if (value < 0)
                    {
                        errors.Add($"{path}:{key} is {value}; set 0 (unlimited) or a positive number, or leave it out to keep the general limit.");
                    }
                }

                // Only what the entry itself sets can be wrong here; the general values are checked above.
                if (entry.CallsPerSecond is not null || entry.CallBurst is not null)
                {
                    ValidateCallRate($"{path}:CallsPerSecond", entry.CallsPerSecond ?? limits.CallsPerSecondPerUser, $"{path}:CallBurst", entry.CallBurst ?? 0, errors);
                }
            }
        }

        foreach (var address in limits.DeniedClientAddresses)
        {
            if (!System.Net.IPNetwork.TryParse(address, out _) && !System.Net.IPAddress.TryParse(address, out _))
            {
                errors.Add($"{Section}:Limits:DeniedClientAddresses has '{address}', which is neither an IP address nor a CIDR range such as 10.1.0.0/16.");
            }
        }
    }

    /// <summary>A burst only means something with a rate, and must hold at least one call.</summary>
    private static void ValidateCallRate(string rateKey, int rate, string burstKey, int burst, List<string> errors)
    {
        if (burst > 0 && rate == 0)
        {
            errors.Add($"{burstKey} is {burst} but {rateKey} is 0 (unlimited), so the burst limits nothing; set {rateKey} (calls per second), or remove the burst.");
        }
        else if (rate > CallRateLimits.MaxCallsPerSecond)
        {
            errors.Add($"{rateKey} is {rate}; the highest rate the gateway limits is {CallRateLimits.MaxCallsPerSecond} calls per second: set 0 for no limit.");
        }
    }

    private void ValidateAuthentication(GatewayAuthenticationOptions authentication, List<string> errors)
    {
        for (var i = 0; i < authentication.Tokens.Count; i++)
        {
            var token = authentication.Tokens[i];
            if (string.IsNullOrWhiteSpace(token.Token) && string.IsNullOrWhiteSpace(token.TokenSha256))
            {
                errors.Add($"{Section}:Authentication:Tokens:{i}:Token is empty; set the secret the client sends as ';token=' in its sc:// connection string, or its SHA-256 digest as TokenSha256.");
            }
            else if (!string.IsNullOrWhiteSpace(token.Token) && !string.IsNullOrWhiteSpace(token.TokenSha256))
            {
                errors.Add($"{Section}:Authentication:Tokens:{i} sets both Token and TokenSha256; keep one (TokenSha256 keeps the secret out of configuration).");
            }
            else if (!string.IsNullOrWhiteSpace(token.TokenSha256))
            {
                if (token.TokenSha256.Length != 64 || !token.TokenSha256.All(Uri.IsHexDigit))
                {
                    errors.Add($"{Section}:Authentication:Tokens:{i}:TokenSha256 must be 64 hex digits (printf %s \"$TOKEN\" | sha256sum).");
                }
            }
            else if (token.Token.Length < 16)
            {
                errors.Add($"{Section}:Authentication:Tokens:{i}:Token is shorter than 16 characters; use a long random secret (for example `openssl rand -hex 32`).");
            }

            if (string.IsNullOrWhiteSpace(token.User))
            {
                errors.Add($"{Section}:Authentication:Tokens:{i}:User is empty; set the user name the token authenticates.");
            }
        }

        if (authentication.Throttle.MaxFailures < 0 || authentication.Throttle.MaxFailuresPerAddress < 0 || authentication.Throttle.Window <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:Authentication:Throttle needs MaxFailures >= 0 and MaxFailuresPerAddress >= 0 (0 turns either off) and a positive Window such as 00:01:00.");
        }
        else if (authentication.Throttle.MaxFailuresPerAddress > 0 && authentication.Throttle.MaxFailuresPerAddress < authentication.Throttle.MaxFailures)
        {
            errors.Add($"{Section}:Authentication:Throttle:MaxFailuresPerAddress ({authentication.Throttle.MaxFailuresPerAddress}) is below MaxFailures ({authentication.Throttle.MaxFailures}); the address-wide ceiling is for many users behind one address, so set it well above the per-user limit (default 100).");
        }

        // Compared by digest, so one secret configured as Token for one user and as TokenSha256 for another is caught.
        var duplicates = authentication.Tokens
            .Select(t => (t.User, Digest: StaticTokenAuthenticator.DigestOf(t)))
            .Where(t => t.Digest is not null)
            .GroupBy(t => Convert.ToHexString(t.Digest!), StringComparer.Ordinal)
            .Where(g => g.Count() > 1)
            .Select(g => string.Join(", ", g.Select(t => t.User)));
        foreach (var users in duplicates)
        {
            errors.Add($"{Section}:Authentication:Tokens has one token for several entries ({users}), counting Token and TokenSha256 alike; give each user a token of its own and list it once.");
        }

        if (authentication.Mode == GatewayAuthenticationMode.Tokens
            && authentication.Tokens.Count == 0
            && registrations.CustomAuthenticatorCount == 0)
        {
            errors.Add($"No authentication is configured: add entries to {Section}:Authentication:Tokens, register an IAuthenticator with AddAuthenticator<T>(), or, for a trial only, set {Section}:Authentication:Mode to None.");
        }
    }

    private static void ValidateEngines(StaticEnginesOptions engines, List<string> errors)
    {
        if (engines.Default is null && engines.Users.Count == 0 && engines.Groups.Count == 0)
        {
            errors.Add($"No engine is configured: set {Section}:Engines:Default:Address (for example http://127.0.0.1:15003), add {Section}:Engines:Users or :Groups entries, or register an IEngineLocator with AddEngineLocator<T>().");
            return;
        }

        if (engines.Default is not null)
        {
            ValidateEngine($"{Section}:Engines:Default", engines.Default, errors);
        }

        foreach (var (user, engine) in engines.Users)
        {
            ValidateEngine($"{Section}:Engines:Users:{user}", engine, errors);
        }

        foreach (var (group, engine) in engines.Groups)
        {
            ValidateEngine($"{Section}:Engines:Groups:{group}", engine, errors);
        }
    }

    private static void ValidateEngine(string path, StaticEngineOptions engine, List<string> errors)
    {
        if (!string.IsNullOrEmpty(engine.CertificateAuthorityPath) && !File.Exists(engine.CertificateAuthorityPath))
        {
            errors.Add($"{path}:CertificateAuthorityPath '{engine.CertificateAuthorityPath}' does not exist; set the path of a PEM file with the CA certificates of the engine.");
        }

        if (!Uri.TryCreate(engine.Address, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            errors.Add($"{path}:Address is '{engine.Address}'; set an absolute http://host:port (HTTP/2 cleartext) or https://host:port address.");
        }
    }
}
