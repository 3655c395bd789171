using System.Diagnostics.CodeAnalysis;

namespace SparkConnect.Multiplexer;

/// <summary>The outcome of <see cref="IAuthenticator.AuthenticateAsync"/>.</summary>
public sealed class AuthenticationResult
{
    private static readonly AuthenticationResult NoResultInstance = new(AuthenticationOutcome.NoResult, null, null);

    private AuthenticationResult(AuthenticationOutcome outcome, GatewayPrincipal? principal, string? reason)
    {
        Outcome = outcome;
        Principal = principal;
        Reason = reason;
    }

    /// <summary>What the authenticator decided.</summary>
    public AuthenticationOutcome Outcome { get; }

    /// <summary>The authenticated principal when <see cref="Outcome"/> is <see cref="AuthenticationOutcome.Succeeded"/>.</summary>
    public GatewayPrincipal? Principal { get; }

    /// <summary>Why the call was refused or could not be checked; sent to the client, so it must not reveal secrets.</summary>
    public string? Reason { get; }

    /// <summary>Whether the call is authenticated; when it is, <see cref="Principal"/> is set.</summary>
    [MemberNotNullWhen(true, nameof(Principal))]
    public bool Succeeded => Outcome == AuthenticationOutcome.Succeeded;

    /// <summary>Whether the call was refused or could not be checked; when so, <see cref="Reason"/> is set.</summary>
    [MemberNotNullWhen(true, nameof(Reason))]
    public bool Failed => Outcome is AuthenticationOutcome.Refused or AuthenticationOutcome.Unavailable;

    /// <summary>The call is authenticated as <paramref name="principal"/>.</summary>
    public static AuthenticationResult Success(GatewayPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return new(AuthenticationOutcome.Succeeded, principal, null);
    }

    /// <summary>This authenticator does not recognise the call's credential; the next one decides.</summary>
    public static AuthenticationResult NoResult() => NoResultInstance;

    /// <summary>The credential was recognised and is not valid: the client gets <c>UNAUTHENTICATED</c>.</summary>
    public static AuthenticationResult Refuse(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return new(AuthenticationOutcome.Refused, null, reason);
    }

    /// <summary>
    /// The credential could not be checked because a backing service is down: the client gets <c>UNAVAILABLE</c>
    /// and retries. Never use it for a wrong credential.
    /// </summary>
    public static AuthenticationResult Unavailable(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return new(AuthenticationOutcome.Unavailable, null, reason);
    }
}

/// <summary>The kinds of <see cref="AuthenticationResult"/>.</summary>
public enum AuthenticationOutcome
{
    /// <summary>The authenticator does not recognise the credential.</summary>
    NoResult,

    /// <summary>The call is authenticated.</summary>
    Succeeded,

    /// <summary>The credential is invalid.</summary>
    Refused,

    /// <summary>The credential could not be checked right now.</summary>
    Unavailable,
}
