using System.Security.Cryptography.X509Certificates;

namespace SparkConnect.Multiplexer.Authentication;

/// <summary>
/// Client certificates (mTLS), configuration section <c>SparkConnectGateway:Authentication:ClientCertificate</c>.
/// A call without a client certificate is left to the next authenticator.
/// </summary>
/// <remarks>
/// Kestrel must ask for the certificate and leave the decision to the gateway:
/// <c>ClientCertificateMode.AllowCertificate</c> (or <c>RequireCertificate</c>) and
/// <c>ClientCertificateValidation = (_, _, _) =&gt; true</c>.
/// </remarks>
public sealed class ClientCertificateAuthenticationOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "SparkConnectGateway:Authentication:ClientCertificate";

    /// <summary>
    /// The CA certificates client certificates must chain to (the only trust anchors; the system store is not
    /// used). Each entry is a path to a PEM or DER file, or PEM text. At least one is required.
    /// </summary>
    public IList<string> TrustedCaCertificates { get; } = [];

    /// <summary>Where the user name comes from. Default <see cref="ClientCertificateUserSource.SubjectCommonName"/>.</summary>
    public ClientCertificateUserSource UserSource { get; set; } = ClientCertificateUserSource.SubjectCommonName;

    /// <summary>Whether the subject's OU values become the user's groups. Default <see langword="false"/>.</summary>
    public bool GroupsFromOrganizationalUnits { get; set; }

    /// <summary>Revocation checking. Default <see cref="X509RevocationMode.NoCheck"/>; use <c>Online</c> when your CA publishes CRLs or OCSP.</summary>
    public X509RevocationMode RevocationMode { get; set; } = X509RevocationMode.NoCheck;
}

/// <summary>Which part of a client certificate names the user.</summary>
public enum ClientCertificateUserSource
{
    /// <summary>The subject's common name (CN).</summary>
    SubjectCommonName,

    /// <summary>The first DNS name of the subject alternative name extension.</summary>
    DnsName,

    /// <summary>The first e-mail address (rfc822Name) of the subject alternative name extension.</summary>
    Email,

    /// <summary>The first URI of the subject alternative name extension (for example a SPIFFE id).</summary>
    Uri,
}
