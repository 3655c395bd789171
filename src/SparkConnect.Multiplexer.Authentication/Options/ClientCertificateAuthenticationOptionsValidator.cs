using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Authentication.Certificates;

namespace SparkConnect.Multiplexer.Authentication;

/// <summary>Checks the client certificate options at start-up and lists every problem with its fix.</summary>
internal sealed class ClientCertificateAuthenticationOptionsValidator : IValidateOptions<ClientCertificateAuthenticationOptions>
{
    private const string Section = ClientCertificateAuthenticationOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, ClientCertificateAuthenticationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();

        if (options.TrustedCaCertificates.Count == 0)
        {
            errors.Add($"{Section}:TrustedCaCertificates is empty: add the path of the CA certificate (PEM) that signs your client certificates, e.g. {Section}:TrustedCaCertificates:0 = /etc/spark-gateway/client-ca.pem.");
        }

        for (var i = 0; i < options.TrustedCaCertificates.Count; i++)
        {
            if (!CaCertificateLoader.TryLoad(options.TrustedCaCertificates[i], out _, out var problem))
            {
                errors.Add($"{Section}:TrustedCaCertificates:{i} cannot be read ({problem}): give the path of a PEM or DER CA certificate file, or the PEM text.");
            }
        }

        if (!Enum.IsDefined(options.UserSource))
        {
            errors.Add($"{Section}:UserSource must be SubjectCommonName, DnsName, Email or Uri.");
        }

        if (!Enum.IsDefined(options.RevocationMode))
        {
            errors.Add($"{Section}:RevocationMode must be NoCheck, Online or Offline.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
