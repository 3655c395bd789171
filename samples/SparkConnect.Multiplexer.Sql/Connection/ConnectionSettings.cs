using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;

namespace SparkConnect.Multiplexer.Sql.Connection;

/// <summary>Where and how to connect: the connection string with the command line's token and TLS choices applied.</summary>
internal sealed class ConnectionSettings
{
    private ConnectionSettings(ConnectionString connection, Uri address, string? token, X509Certificate2Collection? authorities)
    {
        Connection = connection;
        Address = address;
        Token = token;
        Authorities = authorities;
    }

    public ConnectionString Connection { get; }

    public Uri Address { get; }

    public string? Token { get; }

    /// <summary>The CAs the server's certificate must chain to; null: the system's trust store.</summary>
    public X509Certificate2Collection? Authorities { get; }

    /// <summary>
    /// Combines the connection string and the command line; throws <see cref="FormatException"/> with what to fix.
    /// </summary>
    public static ConnectionSettings Create(ShellOptions options, string? environmentToken)
    {
        var connection = ConnectionString.Parse(options.ConnectionString);
        var token = options.Token ?? connection.Token ?? NullIfEmpty(environmentToken);
        X509Certificate2Collection? authorities = null;
        if (options.CaFile is { } caFile)
        {
            authorities = [];
            try
            {
                authorities.ImportFromPemFile(caFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw new FormatException($"--ca {caFile}: cannot read PEM certificates ({e.Message.TrimEnd('.')}).", e);
            }

            if (authorities.Count == 0)
            {
                throw new FormatException($"--ca {caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----).");
            }
        }

        // Spark's clients switch to TLS when a token is given: a bearer token must not cross a network in clear text.
        // On loopback (a trial on one machine) a token may go without.
        var tls = options.Tls || authorities is not null || connection.UseSsl || (token is not null && !connection.IsLoopback);
        var address = new UriBuilder(tls ? "https" : "http", connection.Host, connection.Port).Uri;
        return new ConnectionSettings(connection, address, token, authorities);
    }

    /// <summary>The metadata every call carries: user agent, bearer token, and the connection string's extra keys.</summary>
    public Metadata Headers()
    {
        var headers = new Metadata { { "user-agent", Connection.UserAgent } };
        if (Token is not null)
        {
            headers.Add("authorization", $"Bearer {Token}");
        }

        foreach (var (key, value) in Connection.Headers)
        {
            headers.Add(key.ToLowerInvariant(), value);
        }

        return headers;
    }

    public GrpcChannel CreateChannel()
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),

            // A shell stays open for hours: find out about a dead server before the next statement hangs on it.
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
        };

        if (Authorities is { } authorities)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, errors) =>
                presented is not null && ChainsTo(presented, errors, authorities);
        }

        return GrpcChannel.ForAddress(Address, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = 128 * 1024 * 1024,
            MaxSendMessageSize = 128 * 1024 * 1024,
        });
    }

    private static bool ChainsTo(X509Certificate presented, SslPolicyErrors errors, X509Certificate2Collection authorities)
    {
        // The CA file replaces the trust store, not the host name check.
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

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
