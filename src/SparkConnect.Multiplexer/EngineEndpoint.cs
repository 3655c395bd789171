using System.Security.Cryptography.X509Certificates;

namespace SparkConnect.Multiplexer;

/// <summary>A Spark Connect engine the gateway can forward to.</summary>
/// <remarks>
/// The certificates an endpoint carries stay the locator's: the gateway never disposes them. It keeps using them in
/// its pooled connection to the engine — one per address, client certificate thumbprint and set of authorities — for
/// as long as that connection lives (until the engine is reported lost or stopped, or the host stops), so a locator
/// must not dispose a certificate it returned while its engine may still be in use. Returning the same instances on
/// every call is the simple way; a new instance with the same thumbprint shares the existing connection.
/// </remarks>
public sealed class EngineEndpoint
{
    /// <summary>Creates an endpoint.</summary>
    /// <param name="id">
    /// Identifies the engine instance. Sessions are bound to it: when a locator later returns a different id for the
    /// same key, the old engine is gone and its sessions cannot move.
    /// </param>
    /// <param name="address">The engine's gRPC address: <c>http://host:port</c> (HTTP/2 cleartext) or <c>https://host:port</c>.</param>
    public EngineEndpoint(string id, Uri address)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        ArgumentNullException.ThrowIfNull(address);
        if (!address.IsAbsoluteUri || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"Engine address '{address}' must be an absolute http:// or https:// URI.", nameof(address));
        }

        Id = id;
        Address = address;
    }

    /// <summary>Identifies the engine instance.</summary>
    public string Id { get; }

    /// <summary>The engine's gRPC address.</summary>
    public Uri Address { get; }

    /// <summary>A token the gateway presents to the engine as <c>authorization: Bearer</c> (Spark 4 <c>spark.connect.authenticate.token</c>).</summary>
    public string? AccessToken { get; init; }

    /// <summary>A client certificate (with its private key) the gateway presents to an <c>https</c> engine; owned by the locator.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>
    /// Certificate authorities that sign the engine's certificate, when it is not trusted by the machine; the engine
    /// certificate must chain to one of them.
    /// </summary>
    public X509Certificate2Collection? TrustedCertificateAuthorities { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"{Id} ({Address})";
}
