using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;

namespace SparkConnect.Multiplexer;

/// <summary>What an <see cref="IAuthenticator"/> can see of a call.</summary>
public sealed class AuthenticationContext
{
    private readonly Func<CancellationToken, ValueTask<string?>>? _readClaimedUserId;
    private bool _claimedUserIdRead;

    /// <summary>Creates the context for one call.</summary>
    /// <param name="httpContext">The HTTP/2 request that carries the gRPC call.</param>
    /// <param name="claimedUserId">The <c>user_context.user_id</c> the client sent; untrusted.</param>
    public AuthenticationContext(HttpContext httpContext, string? claimedUserId)
        : this(httpContext)
    {
        ClaimedUserId = string.IsNullOrEmpty(claimedUserId) ? null : claimedUserId;
        _claimedUserIdRead = true;
    }

    /// <summary>The gateway's context: the claimed user id is read from the request only if an authenticator asks.</summary>
    internal AuthenticationContext(HttpContext httpContext, Func<CancellationToken, ValueTask<string?>> readClaimedUserId)
        : this(httpContext)
    {
        _readClaimedUserId = readClaimedUserId;
    }

    private AuthenticationContext(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        HttpContext = httpContext;
        BearerToken = ParseBearer(httpContext.Request.Headers.Authorization.ToString())
            ?? ParseBearer(httpContext.Request.Headers["authentication"].ToString());
    }

    /// <summary>The underlying request, for authenticators that use the host's own ASP.NET Core authentication.</summary>
    public HttpContext HttpContext { get; }

    /// <summary>The call's metadata (gRPC request headers).</summary>
    public IHeaderDictionary Headers => HttpContext.Request.Headers;

    /// <summary>The client's IP address, when the transport knows it.</summary>
    public IPAddress? PeerAddress => HttpContext.Connection.RemoteIpAddress;

    /// <summary>The client certificate presented in the TLS handshake, if any.</summary>
    public X509Certificate2? ClientCertificate => HttpContext.Connection.ClientCertificate;

    /// <summary>
    /// The <c>user_context.user_id</c> of the first request message, as the client claims it, once it has been read
    /// (<see cref="ReadClaimedUserIdAsync"/>); <see langword="null"/> before. Only an authenticator that deliberately
    /// trusts clients (trial mode) or verifies it (a password bind) may use it.
    /// </summary>
    public string? ClaimedUserId { get; private set; }

    /// <summary>
    /// Reads the claimed <c>user_context.user_id</c> from the request. The gateway checks credentials in headers and
    /// the TLS handshake before it reads any request byte, so only authenticators that need the claimed user call
    /// this; it reads at most the first 64 KiB of the first message (Spark clients write the user context in its
    /// first hundred bytes), and the result is <see langword="null"/> when the client sent none there.
    /// </summary>
    /// <param name="cancellationToken">Cancelled when the client goes away or the call's deadline passes.</param>
    /// <returns>The claimed user id, or <see langword="null"/>.</returns>
    public async ValueTask<string?> ReadClaimedUserIdAsync(CancellationToken cancellationToken)
    {
        if (!_claimedUserIdRead && _readClaimedUserId is not null)
        {
            var claimed = await _readClaimedUserId(cancellationToken);
            ClaimedUserId = string.IsNullOrEmpty(claimed) ? null : claimed;
            _claimedUserIdRead = true;
        }

        return ClaimedUserId;
    }

    /// <summary>
    /// The token of an <c>authorization: Bearer</c> header, or of <c>authentication: Bearer</c> as JVM clients
    /// before 2026 send it; <see langword="null"/> when neither is present.
    /// </summary>
    public string? BearerToken { get; }

    private static string? ParseBearer(string header)
    {
        const string Scheme = "Bearer ";
        if (header.Length <= Scheme.Length || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var token = header[Scheme.Length..].Trim();
        return token.Length == 0 ? null : token;
    }
}
