using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Authentication.Internal;

namespace SparkConnect.Multiplexer.Authentication.Certificates;

/// <summary>
/// Authenticates the TLS client certificate: it must chain to a configured CA (the only trust anchors), be within
/// its validity period, and allow client authentication when it lists extended key usages. The user comes from the
/// subject CN or a subject alternative name. A call without a certificate is left to the next authenticator.
/// </summary>
internal sealed class ClientCertificateAuthenticator : IAuthenticator
{
    private const string ClientAuthenticationOid = "1.3.6.1.5.5.7.3.2";

    private readonly ClientCertificateAuthenticationOptions _options;
    private readonly X509Certificate2Collection _trustedCas = [];
    private readonly TimeProvider _time;
    private readonly ILogger<ClientCertificateAuthenticator> _logger;

    public ClientCertificateAuthenticator(IOptions<ClientCertificateAuthenticationOptions> options, TimeProvider time, ILogger<ClientCertificateAuthenticator> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
        foreach (var entry in _options.TrustedCaCertificates)
        {
            if (CaCertificateLoader.TryLoad(entry, out var certificates, out _))
            {
                _trustedCas.AddRange(certificates);
            }
        }
    }

    public string? CredentialHint => "connect with TLS (;use_ssl=true in the sc:// connection string) and present your client certificate";

    public ValueTask<AuthenticationResult> AuthenticateAsync(AuthenticationContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.ClientCertificate is not { } certificate)
        {
            return ValueTask.FromResult(AuthenticationResult.NoResult());
        }

        var failure = Validate(certificate);
        if (failure is not null)
        {
            AuthenticationLog.CertificateRefused(_logger, certificate.Subject, context.PeerAddress, failure);
            return ValueTask.FromResult(AuthenticationResult.Refuse("client certificate refused: " + failure));
        }

        var user = UserName(certificate);
        if (string.IsNullOrWhiteSpace(user))
        {
            var reason = $"client certificate refused: it has no {_options.UserSource} to name the user";
            AuthenticationLog.CertificateRefused(_logger, certificate.Subject, context.PeerAddress, reason);
            return ValueTask.FromResult(AuthenticationResult.Refuse(reason));
        }

        var groups = _options.GroupsFromOrganizationalUnits ? OrganizationalUnits(certificate) : [];
        AuthenticationLog.CertificateAuthenticated(_logger, user);
        return ValueTask.FromResult(AuthenticationResult.Success(new GatewayPrincipal(user, groups)));
    }

    private string? Validate(X509Certificate2 certificate)
    {
        var now = _time.GetUtcNow();
        if (now < certificate.NotBefore.ToUniversalTime() || now > certificate.NotAfter.ToUniversalTime())
        {
            return "expired or not yet valid";
        }

        var eku = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault();
        if (eku is not null && !eku.EnhancedKeyUsages.Cast<Oid>().Any(o => o.Value == ClientAuthenticationOid))
        {
            return "not issued for client authentication";
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_trustedCas);
        chain.ChainPolicy.RevocationMode = _options.RevocationMode;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ClientAuthenticationOid));
        try
        {
            if (chain.Build(certificate))
            {
                return null;
            }

            var status = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
            return status.HasFlag(X509ChainStatusFlags.NotTimeValid) ? "expired or not yet valid"
                : status.HasFlag(X509ChainStatusFlags.Revoked) ? "revoked"
                : status.HasFlag(X509ChainStatusFlags.NotValidForUsage) ? "not issued for client authentication"
                : "not issued by a trusted CA";
        }
        catch (CryptographicException)
        {
            return "not issued by a trusted CA";
        }
    }

    private string? UserName(X509Certificate2 certificate)
    {
        if (_options.UserSource == ClientCertificateUserSource.SubjectCommonName)
        {
            return certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        }

        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (san is null)
        {
            return null;
        }

        return _options.UserSource switch
        {
            ClientCertificateUserSource.DnsName => san.EnumerateDnsNames().FirstOrDefault(),
            ClientCertificateUserSource.Email => EnumerateGeneralNames(san, 0x81).FirstOrDefault(),
            ClientCertificateUserSource.Uri => EnumerateGeneralNames(san, 0x86).FirstOrDefault(),
            _ => null,
        };
    }

    /// <summary>IA5String general names of one context tag ([1] rfc822Name = 0x81, [6] uniformResourceIdentifier = 0x86).</summary>
    private static List<string> EnumerateGeneralNames(X509SubjectAlternativeNameExtension san, byte tag)
    {
        var reader = new System.Formats.Asn1.AsnReader(san.RawData, System.Formats.Asn1.AsnEncodingRules.DER);
        var sequence = reader.ReadSequence();
        var names = new List<string>();
        while (sequence.HasData)
        {
            var next = sequence.PeekTag();
            var raw = sequence.ReadEncodedValue();
            if (next.TagClass == System.Formats.Asn1.TagClass.ContextSpecific && next.TagValue == (tag & 0x1f) && !next.IsConstructed)
            {
                var value = new System.Formats.Asn1.AsnReader(raw, System.Formats.Asn1.AsnEncodingRules.DER)
                    .ReadCharacterString(System.Formats.Asn1.UniversalTagNumber.IA5String, new System.Formats.Asn1.Asn1Tag(System.Formats.Asn1.TagClass.ContextSpecific, next.TagValue));
                names.Add(value);
            }
        }

        return names;
    }

    private static List<string> OrganizationalUnits(X509Certificate2 certificate)
    {
        var units = new List<string>();
        foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            if (rdn.GetSingleElementType().Value == "2.5.4.11" && rdn.GetSingleElementValue() is { } value)
            {
                units.Add(value);
            }
        }

        return units;
    }
}
