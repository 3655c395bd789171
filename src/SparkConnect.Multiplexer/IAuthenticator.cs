namespace SparkConnect.Multiplexer;

/// <summary>
/// Decides who is making a Spark Connect call. The gateway asks every registered authenticator in order; the first
/// that recognises the call's credential decides (<see cref="AuthenticationResult.NoResult"/> passes to the next).
/// </summary>
/// <remarks>Implementations are singletons and are called concurrently; they must not log credentials.</remarks>
public interface IAuthenticator
{
    /// <summary>Authenticates one call.</summary>
    /// <param name="context">The call's metadata, peer address, client certificate and claimed user.</param>
    /// <param name="cancellationToken">Cancelled when the client goes away or the call's deadline passes.</param>
    /// <returns>A principal, a refusal with a reason, or <see cref="AuthenticationResult.NoResult"/>.</returns>
    ValueTask<AuthenticationResult> AuthenticateAsync(AuthenticationContext context, CancellationToken cancellationToken);

    /// <summary>
    /// How a client presents the credential this authenticator reads, in the client's terms — for example
    /// <c>send your API key in the 'x-api-key' header</c>. A call that carries no credential any authenticator
    /// recognises is refused with the hints of every authenticator in the chain, so users of a host that does not
    /// take tokens are not told to add <c>;token=</c>. <see langword="null"/> (the default) adds nothing.
    /// </summary>
    string? CredentialHint => null;
}
