using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Runtime.CompilerServices;
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
    private readonly ConcurrentDictionary<string, Channel> _channels = new(StringComparer.Ordinal);

    // The channel of each endpoint instance, so a call finds its client without building the key (the address and
    // certificate thumbprints, a string per call) again; locators return the same instance for an engine, and an
    // entry goes when its endpoint is collected. A forgotten channel is looked up afresh by key.
    private readonly ConditionalWeakTable<EngineEndpoint, Channel> _byEndpoint = new();
    private bool _disposed;

    public HttpMessageInvoker For(EngineEndpoint endpoint)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_byEndpoint.TryGetValue(endpoint, out var known) && !known.IsForgotten)
        {
            return known.Invoker;
        }

        var channel = _channels.GetOrAdd(KeyOf(endpoint), static (_, state) => new Channel(state.endpoint, state.connectTimeout), (endpoint, connectTimeout: options.CurrentValue.EngineConnectTimeout));
        _byEndpoint.AddOrUpdate(endpoint, channel);
        return channel.Invoker;
    }

    /// <summary>
    /// Drops and disposes the client of an engine that is gone (stopped, lost), so clients do not pile up as engines
    /// come and go; a later call to the same address gets a new one. Launchers call it once the engine is out of
    /// service, so only calls to the dead engine can be cut.
    /// </summary>
    public void Forget(EngineEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (_channels.TryRemove(KeyOf(endpoint), out var channel))
        {
            channel.Forget();
        }
    }

    /// <summary>How many engine clients are pooled (tests check that gone engines leave).</summary>
    internal int Count => _channels.Count;

    public void Dispose()
    {
        _disposed = true;
        foreach (var channel in _channels.Values)
        {
            channel.Forget();
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

    /// <summary>One engine client, made on first use; forgotten (and disposed) when its engine is gone.</summary>
    private sealed class Channel(EngineEndpoint endpoint, TimeSpan connectTimeout)
    {
        private readonly Lazy<HttpMessageInvoker> _invoker = new(() => Create(endpoint, connectTimeout));
        private volatile bool _forgotten;

        public HttpMessageInvoker Invoker => _invoker.Value;

        public bool IsForgotten => _forgotten;

        public void Forget()
        {
            _forgotten = true;
            if (_invoker.IsValueCreated)
            {
                _invoker.Value.Dispose();
            }
        }
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
