namespace SparkConnect.Multiplexer.Authenticators;

/// <summary>
/// Trial mode (<c>Authentication:Mode = None</c>): the user is whatever <c>user_context.user_id</c> the client
/// sends. Anyone can claim to be anyone; the gateway logs a warning at start-up when this is on.
/// </summary>
internal sealed class TrustedUserContextAuthenticator : IAuthenticator
{
    public async ValueTask<AuthenticationResult> AuthenticateAsync(AuthenticationContext context, CancellationToken cancellationToken)
        => await context.ReadClaimedUserIdAsync(cancellationToken) is { } user && !string.IsNullOrWhiteSpace(user)
            ? AuthenticationResult.Success(new GatewayPrincipal(user))
            : AuthenticationResult.Refuse("Authentication is off (trial mode), so the gateway takes the user from user_context.user_id, and this request has none. " +
                "Set the user your client sends: ;user_id=alice in an sc:// connection string (PySpark, Scala, Go), or, for clients configured through their own API, its user id setting (for example a UserId or userContext option).");
}
