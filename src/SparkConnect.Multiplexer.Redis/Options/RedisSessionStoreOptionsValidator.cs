using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace SparkConnect.Multiplexer.Redis;

/// <summary>Checks the Redis session store's settings at start-up; every problem is reported with its fix.</summary>
internal sealed class RedisSessionStoreOptionsValidator : IValidateOptions<RedisSessionStoreOptions>
{
    private const string Section = RedisSessionStoreOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, RedisSessionStoreOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Configuration))
        {
            errors.Add($"{Section}:Configuration is required: give the Redis endpoints, for example \"127.0.0.1:6379\" or \"redis:6379,password=...,ssl=true\".");
        }
        else
        {
            try
            {
                var parsed = ConfigurationOptions.Parse(options.Configuration);
                if (parsed.EndPoints.Count == 0)
                {
                    errors.Add($"{Section}:Configuration names no Redis endpoint: start it with host:port, for example \"127.0.0.1:6379\".");
                }

                if (!string.IsNullOrEmpty(options.CertificateAuthorityPath) && !parsed.Ssl)
                {
                    errors.Add($"{Section}:CertificateAuthorityPath is set but {Section}:Configuration does not use TLS: add \",ssl=true\" to the configuration string, or remove CertificateAuthorityPath.");
                }
            }
            catch (ArgumentException e)
            {
                errors.Add($"{Section}:Configuration is not a StackExchange.Redis configuration string ({e.Message}); write it as \"host:port,option=value,...\".");
            }
        }

        if (string.IsNullOrEmpty(options.KeyPrefix) || options.KeyPrefix.AsSpan().IndexOfAny("{}") >= 0)
        {
            errors.Add($"{Section}:KeyPrefix must be non-empty and without braces (it is used as the keys' hash tag); the default is \"sparkconnect-gateway\".");
        }

        if (options.Database < -1)
        {
            errors.Add($"{Section}:Database {options.Database} is not a database number: use -1 for the connection's default, or 0 and up.");
        }

        if (!string.IsNullOrEmpty(options.CertificateAuthorityPath))
        {
            ValidateCertificateAuthority(options.CertificateAuthorityPath, errors);
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateCertificateAuthority(string path, List<string> errors)
    {
        if (!File.Exists(path))
        {
            errors.Add($"{Section}:CertificateAuthorityPath '{path}' does not exist; set the path of a PEM file with the CA certificates that sign Redis's TLS certificate.");
            return;
        }

        try
        {
            var certificates = new X509Certificate2Collection();
            certificates.ImportFromPemFile(path);
            if (certificates.Count == 0)
            {
                errors.Add($"{Section}:CertificateAuthorityPath '{path}' holds no certificate; it must be a PEM file with -----BEGIN CERTIFICATE----- blocks of the CA that signs Redis's certificate.");
            }
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            errors.Add($"{Section}:CertificateAuthorityPath '{path}' cannot be read as PEM certificates ({e.Message}); it must be a readable PEM file of the CA that signs Redis's certificate.");
        }
    }
}
