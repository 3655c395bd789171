using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.IdentityModel.Tokens;

namespace SparkConnect.Multiplexer.Authentication.Jwt;

/// <summary>Turns a configured key (PEM public key, PEM certificate or JWK) into a <see cref="SecurityKey"/>.</summary>
internal static class SigningKeyParser
{
    public static bool TryParse(string? text, [NotNullWhen(true)] out SecurityKey? key, [NotNullWhen(false)] out string? problem)
    {
        key = null;
        problem = null;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            problem = "empty";
            return false;
        }

        try
        {
            if (text.StartsWith('{'))
            {
                var jwk = new JsonWebKey(text);
                if (jwk.HasPrivateKey)
                {
                    problem = "a private JWK; give the public key only";
                    return false;
                }

                key = jwk;
                return true;
            }

            if (text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
            {
                key = new X509SecurityKey(X509Certificate2.CreateFromPem(text));
                return true;
            }

            if (text.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
            {
                problem = "a private key; give the public key only";
                return false;
            }

            if (text.Contains("-----BEGIN", StringComparison.Ordinal))
            {
                var rsa = RSA.Create();
                try
                {
                    rsa.ImportFromPem(text);
                    key = new RsaSecurityKey(rsa);
                    return true;
                }
                catch (Exception e) when (e is ArgumentException or CryptographicException)
                {
                    rsa.Dispose();
                }

                var ec = ECDsa.Create();
                try
                {
                    ec.ImportFromPem(text);
                    key = new ECDsaSecurityKey(ec);
                    return true;
                }
                catch (Exception e) when (e is ArgumentException or CryptographicException)
                {
                    ec.Dispose();
                }

                problem = "not an RSA or EC public key";
                return false;
            }

            problem = "neither PEM nor JWK";
            return false;
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or FormatException)
        {
            problem = e.GetType().Name;
            return false;
        }
    }
}
