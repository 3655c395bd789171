using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Engines;

/// <summary>
/// One pooled HTTP/2 client per engine endpoint (address and TLS identity), shared by every session on it.
/// The gateway forwards raw gRPC frames, so it talks HTTP/2 itself rather than through a <c>GrpcChannel</c>:
/// responses are never decoded, and methods it has never heard of pass through whatever their kind.
/// </summary>
internal sealed class EngineChannelPool(IOptionsMonitor<SparkConnectGatewayOptions> options) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<HttpMessageInvoker>> _channels = new(StringComparer.Ordinal);
    private bool _disposed;

    public HttpMessageInvoker For(EngineEndpoint endpoint)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var key = KeyOf(endpoint);
        return _channels.GetOrAdd(key, static (_, state) => new Lazy<HttpMessageInvoker>(() => Create(state.endpoint, state.connectTimeout)), (endpoint, connectTimeout: options.CurrentValue.EngineConnectTimeout)).Value;
    }

    /// <summary>
    /// Drops and disposes the client of an engine that is gone (stopped, lost), so clients do not pile up as engines
    /// come and go; a later call to the same address gets a new one. Launchers call it once the engine is out of
    /// service, so only calls to the dead engine can be cut.
    /// </summary>
    public void Forget(EngineEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (_channels.TryRemove(KeyOf(endpoint), out var channel) && channel.IsValueCreated)
        {
            channel.Value.Dispose();
        }
    }

    /// <summary>How many engine clients are pooled (tests check that gone engines leave).</summary>
    internal int Count => _channels.Count;

    public void Dispose()
    {
        _disposed = true;
        foreach (var channel in _channels.Values)
        {
            if (channel.IsValueCreated)
            {
                channel.Value.Dispose();
            }
        }

        _channels.Clear();
    }

    private static string KeyOf(EngineEndpoint endpoint)
    {
        var authorities = endpoint.TrustedCertificateAuthorities is { Count: > 0 } cas
            ? string.Join(',', cas.Select(c => c.Thumbprint))
            : "";
        return $"{endpoint.Address.GetLeftPart(UriPartial.Authority)}|{endpoint.ClientCertificate?.Thumbprint}|{authorities}";
    }

    private static HttpMessageInvoker Create(EngineEndpoint endpoint, TimeSpan connectTimeout)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = connectTimeout,

            // Many sessions share one engine: let HTTP/2 open another connection when one hits its stream limit.
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,

            // The gateway injects trace context itself (or passes the client's on), never twice.
            ActivityHeadersPropagator = null,
        };

        if (endpoint.ClientCertificate is { } certificate)
        {
            handler.SslOptions.ClientCertificates = [certificate];
        }

        if (endpoint.TrustedCertificateAuthorities is { Count: > 0 } authorities)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, errors) =>
                presented is not null && ChainsToAuthorities(presented, errors, authorities);
        }

        return new HttpMessageInvoker(handler, disposeHandler: true);
    }

    private static bool ChainsToAuthorities(X509Certificate presented, SslPolicyErrors errors, X509Certificate2Collection authorities)
    {
        if ((errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var certificate = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        return chain.Build(certificate);
    }
}
