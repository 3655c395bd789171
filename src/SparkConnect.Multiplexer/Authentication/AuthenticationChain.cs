using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Diagnostics;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Authentication;

/// <summary>
/// Asks the built-in static tokens first — an exact digest match, which never refuses, so a token client is not
/// turned away by, say, an LDAP authenticator that sees the user_id PySpark always sends — then the host's
/// authenticators in registration order, then, in trial mode only, the client's own user id. The first that
/// recognises the credential decides.
/// </summary>
internal sealed class AuthenticationChain
{
    private readonly IAuthenticator[] _authenticators;
    private readonly AuthenticationThrottle _throttle;
    private readonly ILogger<AuthenticationChain> _logger;

    public AuthenticationChain(IEnumerable<IAuthenticator> hostAuthenticators, IOptionsMonitor<SparkConnectGatewayOptions> options, AuthenticationThrottle throttle, ILogger<AuthenticationChain> logger)
    {
        _throttle = throttle;
        var chain = new List<IAuthenticator> { new StaticTokenAuthenticator(options) };
        chain.AddRange(hostAuthenticators);

        // Read once: switching authentication off must take a restart, never a configuration reload.
        if (options.CurrentValue.Authentication.Mode == GatewayAuthenticationMode.None)
        {
            chain.Add(new TrustedUserContextAuthenticator());
        }

        _authenticators = [.. chain];
        _logger = logger;
    }

    /// <exception cref="GatewayException">UNAUTHENTICATED, or UNAVAILABLE when an authentication service is down.</exception>
    public async ValueTask<GatewayPrincipal> AuthenticateAsync(AuthenticationContext context, CancellationToken cancellationToken)
    {
        if (_throttle.IsThrottled(context.PeerAddress, out var retryAfter, out var firstRefusal))
        {
            if (firstRefusal)
            {
                GatewayLog.AuthenticationThrottled(_logger, context.PeerAddress, retryAfter);
            }

            throw new GatewayException(StatusCode.Unauthenticated, $"Too many failed authentication attempts from this address; retry in {Math.Ceiling(retryAfter.TotalSeconds)} s.");
        }

        foreach (var authenticator in _authenticators)
        {
            var result = await authenticator.AuthenticateAsync(context, cancellationToken);
            switch (result.Outcome)
            {
                case AuthenticationOutcome.Succeeded:
                    return result.Principal!;
                case AuthenticationOutcome.Refused:
                    _throttle.RecordFailure(context.PeerAddress);
                    GatewayLog.AuthenticationRefused(_logger, context.PeerAddress, result.Reason!);
                    throw new GatewayException(StatusCode.Unauthenticated, result.Reason!);
                case AuthenticationOutcome.Unavailable:
                    GatewayLog.AuthenticationUnavailable(_logger, context.PeerAddress, result.Reason!);
                    throw new GatewayException(StatusCode.Unavailable, result.Reason!);
            }
        }

        var reason = context.BearerToken is null
            ? "Missing Authorization header: add ;token=<your token> to the sc:// connection string (it is sent as 'authorization: Bearer <token>')."
            : "Invalid token.";
        _throttle.RecordFailure(context.PeerAddress);
        GatewayLog.AuthenticationRefused(_logger, context.PeerAddress, reason);
        throw new GatewayException(StatusCode.Unauthenticated, reason);
    }
}
