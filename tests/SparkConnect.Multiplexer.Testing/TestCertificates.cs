using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SparkConnect.Multiplexer.Testing;

/// <summary>
/// Certificates made in the test with <see cref="CertificateRequest"/> (EC P-256): CAs, TLS servers for loopback
/// (Kestrel, slapd, a stand-in API server) and clients for mTLS, with PEM export for servers that read files.
/// </summary>
public static class TestCertificates
{
    /// <summary>A self-signed CA that can sign certificates (basic constraints, key usage, subject key id).</summary>
    public static X509Certificate2 CreateCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        return Reload(request.CreateSelfSigned(now.AddDays(-30), now.AddYears(1)));
    }

    /// <summary>A TLS client certificate issued by <paramref name="ca"/>, with the given subject alternative names.</summary>
    public static X509Certificate2 CreateClient(
        X509Certificate2 ca,
        string subject,
        string? email = null,
        string? dnsName = null,
        Uri? uri = null,
        DateTimeOffset? notBefore = null,
        DateTimeOffset? notAfter = null,
        string eku = "1.3.6.1.5.5.7.3.2")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(eku)], false));
        if (email is not null || dnsName is not null || uri is not null)
        {
            var san = new SubjectAlternativeNameBuilder();
            if (email is not null)
            {
                san.AddEmailAddress(email);
            }

            if (dnsName is not null)
            {
                san.AddDnsName(dnsName);
            }

            if (uri is not null)
            {
                san.AddUri(uri);
            }

            request.CertificateExtensions.Add(san.Build());
        }

        var now = DateTimeOffset.UtcNow;
        var serial = RandomNumberGenerator.GetBytes(12);
        using var issued = request.Create(ca, notBefore ?? now.AddDays(-1), notAfter ?? now.AddDays(30), serial);
        return Reload(issued.CopyWithPrivateKey(key));
    }

    /// <summary>A TLS server certificate for localhost and 127.0.0.1: self-signed, or issued by <paramref name="issuer"/>.</summary>
    public static X509Certificate2 CreateServer(X509Certificate2? issuer = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.UtcNow;
        if (issuer is null)
        {
            return Reload(request.CreateSelfSigned(now.AddDays(-1), now.AddDays(30)));
        }

        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        using var issued = request.Create(issuer, now.AddDays(-1), now.AddDays(30), RandomNumberGenerator.GetBytes(12));
        return Reload(issued.CopyWithPrivateKey(key));
    }

    /// <summary>The public certificate as PEM (what a CA file holds).</summary>
    public static string Pem(X509Certificate2 certificate) => certificate.ExportCertificatePem();

    /// <summary>The private key as unencrypted PKCS#8 PEM (what a server's key file holds).</summary>
    public static string PrivateKeyPem(X509Certificate2 certificate)
    {
        using var key = certificate.GetECDsaPrivateKey() ?? throw new ArgumentException("The certificate has no EC private key.", nameof(certificate));
        return key.ExportPkcs8PrivateKeyPem();
    }

    // A PKCS#12 round trip gives a certificate whose private key TLS can use on every platform.
    private static X509Certificate2 Reload(X509Certificate2 certificate)
    {
        using (certificate)
        {
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        }
    }
}
