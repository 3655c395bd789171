using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SparkConnect.Multiplexer.Authentication.Certificates;

/// <summary>Loads configured CA certificates: a PEM/DER file path, or PEM text.</summary>
internal static class CaCertificateLoader
{
    public static bool TryLoad(string? entry, [NotNullWhen(true)] out X509Certificate2Collection? certificates, [NotNullWhen(false)] out string? problem)
    {
        certificates = null;
        problem = null;
        if (string.IsNullOrWhiteSpace(entry))
        {
            problem = "empty";
            return false;
        }

        try
        {
            var collection = new X509Certificate2Collection();
            if (entry.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
            {
                collection.ImportFromPem(entry);
            }
            else if (!File.Exists(entry))
            {
                problem = "no such file";
                return false;
            }
            else
            {
                var text = File.ReadAllText(entry);
                if (text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
                {
                    collection.ImportFromPem(text);
                }
                else
                {
                    collection.Add(X509CertificateLoader.LoadCertificateFromFile(entry));
                }
            }

            if (collection.Count == 0)
            {
                problem = "no certificate in it";
                return false;
            }

            certificates = collection;
            return true;
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            problem = e.GetType().Name;
            return false;
        }
    }
}
