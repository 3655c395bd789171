using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Internal;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Authenticators;

/// <summary>
/// Asks the built-in static tokens first — an exact digest match, which never refuses, so a token client is not
/// turned away by, say, an LDAP authenticator that sees the user_id PySpark always sends — then the host's
/// authenticators in registration order, then, in trial mode only, the client's own user id. The first that
/// recognises the credential decides. Runs before the gateway reads any request byte: an authenticator that needs
/// the claimed user id reads a bounded prefix of the first message through the context.
/// </summary>
internal sealed class AuthenticationChain
{
    private const string StaticTokenHint = "add ;token=<your token> to the sc:// connection string (it is sent as 'authorization: Bearer <token>')";

    private readonly IAuthenticator[] _authenticators;
    private readonly IOptionsMonitor<SparkConnectGatewayOptions> _options;
    private readonly AuthenticationThrottle _throttle;
    private readonly bool _trialMode;
    private readonly ILogger<AuthenticationChain> _logger;
    private readonly GatewayMetrics _metrics;

    public AuthenticationChain(IEnumerable<IAuthenticator> hostAuthenticators, IOptionsMonitor<SparkConnectGatewayOptions> options, AuthenticationThrottle throttle, GatewayMetrics metrics, ILogger<AuthenticationChain> logger)
    {
        _throttle = throttle;
        _options = options;
        _metrics = metrics;
        var chain = new List<IAuthenticator> { new StaticTokenAuthenticator(options) };
        chain.AddRange(hostAuthenticators);

        // Read once: switching authentication off must take a restart, never a configuration reload.
        _trialMode = options.CurrentValue.Authentication.Mode == GatewayAuthenticationMode.None;
        if (_trialMode)
        {
            chain.Add(new TrustedUserContextAuthenticator());
        }

        _authenticators = [.. chain];
        _logger = logger;
    }

    /// <summary>Authenticates a call; <paramref name="readClaimedUserId"/> is called only if an authenticator needs it.</summary>
    /// <exception cref="GatewayException">UNAUTHENTICATED, or UNAVAILABLE when an authentication service is down.</exception>
    public async ValueTask<GatewayPrincipal> AuthenticateAsync(HttpContext httpContext, Func<CancellationToken, ValueTask<string?>> readClaimedUserId, CancellationToken cancellationToken)
    {
        var peer = httpContext.Connection.RemoteIpAddress;

        // Trial mode trusts whatever user the client names: there is nothing to guess, so nothing to throttle.
        var throttled = !_trialMode;
        if (throttled && _throttle.IsAddressThrottled(peer, out var retryAfter, out var firstRefusal))
        {
            throw Throttled(peer, retryAfter, firstRefusal);
        }

        var context = new AuthenticationContext(httpContext, async token =>
        {
            var claimed = await readClaimedUserId(token);
            if (throttled && claimed is not null && _throttle.IsUserThrottled(peer, claimed, out var userRetryAfter, out var firstUserRefusal))
            {
                throw Throttled(peer, userRetryAfter, firstUserRefusal);
            }

            return claimed;
        });

        foreach (var authenticator in _authenticators)
        {
            var result = await authenticator.AuthenticateAsync(context, cancellationToken);
            if (result.Succeeded)
            {
                return CheckedPrincipal(result.Principal, context);
            }

            if (result.Failed)
            {
                if (result.Outcome == AuthenticationOutcome.Unavailable)
                {
                    GatewayLog.AuthenticationUnavailable(_logger, peer, result.Reason);
                    _metrics.AuthenticationFailed("unavailable");
                    throw new GatewayException(StatusCode.Unavailable, result.Reason);
                }

                throw Refused(context, result.Reason);
            }
        }

        throw Refused(context, context.BearerToken is null ? MissingCredential() : "Invalid token.");
    }

    /// <summary>What to send, in the terms of the authenticators this gateway has: static tokens only when configured.</summary>
    private string MissingCredential()
    {
        var hints = new List<string>();
        if (_options.CurrentValue.Authentication.Tokens.Count > 0)
        {
            hints.Add(StaticTokenHint);
        }

        foreach (var authenticator in _authenticators)
        {
            if (authenticator.CredentialHint is { Length: > 0 } hint && !hints.Contains(hint, StringComparer.Ordinal))
            {
                hints.Add(hint);
            }
        }

        return hints.Count == 0
            ? "No credential this gateway accepts was sent; ask the gateway's operator how to sign in."
            : $"No credential this gateway accepts was sent: {string.Join("; or ", hints)}.";
    }

    private GatewayException Refused(AuthenticationContext context, string reason)
    {
        // Only a credential that was presented and refused is a guess; a call with none is a configuration mistake.
        var presented = HasCredential(context);
        if (!_trialMode && presented)
        {
            _throttle.RecordFailure(context.PeerAddress, context.ClaimedUserId);
        }

        _metrics.AuthenticationFailed(presented ? "invalid_credential" : "missing_credential");

        GatewayLog.AuthenticationRefused(_logger, context.PeerAddress, reason);
        return new GatewayException(StatusCode.Unauthenticated, reason);
    }

    private GatewayException Throttled(System.Net.IPAddress? peer, TimeSpan retryAfter, bool firstRefusal)
    {
        if (firstRefusal)
        {
            GatewayLog.AuthenticationThrottled(_logger, peer, retryAfter);
        }

        return new GatewayException(StatusCode.Unauthenticated, $"Too many failed authentication attempts; retry in {Math.Ceiling(retryAfter.TotalSeconds)} s.")
        {
            Refusal = RefusalReasons.Throttle,
        };
    }

    /// <summary>
    /// A principal's name keys engines, sessions, limits and audit lines: one that could not be written to a log line
    /// as it is (control characters, surrounding spaces) is refused, whichever authenticator produced it.
    /// </summary>
    private GatewayPrincipal CheckedPrincipal(GatewayPrincipal principal, AuthenticationContext context)
        => GatewayPrincipal.IsPlainUserName(principal.UserName)
            ? principal
            : throw Refused(context, $"The user name {ClientText.Quote(principal.UserName)} has control characters or surrounding spaces; use the plain name.");

    private static bool HasCredential(AuthenticationContext context)
        => context.BearerToken is not null
            || context.ClientCertificate is not null
            || context.Headers.Authorization.Count > 0
            || context.Headers.ContainsKey("authentication");
}
