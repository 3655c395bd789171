using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Redis.Tests;

[TestClass]
public sealed class RedisSessionStoreOptionsValidatorTests
{
    [TestMethod]
    [DataRow(null, "sparkconnect-gateway", -1, "Configuration is required")]
    [DataRow("", "sparkconnect-gateway", -1, "Configuration is required")]
    [DataRow("password=secret", "sparkconnect-gateway", -1, "names no Redis endpoint")]
    [DataRow("127.0.0.1:6379,connectTimeout=soon", "sparkconnect-gateway", -1, "is not a StackExchange.Redis configuration string")]
    [DataRow("127.0.0.1:6379", "", -1, "KeyPrefix must be non-empty")]
    [DataRow("127.0.0.1:6379", "a{b}", -1, "without braces")]
    [DataRow("127.0.0.1:6379", "sparkconnect-gateway", -2, "Database -2")]
    public void Invalid_IsReportedWithItsFix(string? configuration, string prefix, int database, string expected)
    {
        var result = new RedisSessionStoreOptionsValidator().Validate(null, new RedisSessionStoreOptions { Configuration = configuration, KeyPrefix = prefix, Database = database });

        Assert.IsTrue(result.Failed);
        StringAssert.Contains(result.FailureMessage, expected);
    }

    [TestMethod]
    public void Valid_Passes()
        => Assert.IsTrue(new RedisSessionStoreOptionsValidator().Validate(null, new RedisSessionStoreOptions { Configuration = "redis-1:6379,redis-2:6379,ssl=true,password=x" }).Succeeded);

    [TestMethod]
    public void CertificateAuthorityPath_Missing_NotPem_OrWithoutTls_IsReportedWithItsFix()
    {
        var directory = Directory.CreateTempSubdirectory("redis-ca-");
        try
        {
            var notPem = Path.Combine(directory.FullName, "not.pem");
            File.WriteAllText(notPem, "not a certificate");
            var ca = Path.Combine(directory.FullName, "ca.pem");
            using (var certificate = SparkConnect.Multiplexer.Testing.TestCertificates.CreateCa("redis test CA"))
            {
                File.WriteAllText(ca, SparkConnect.Multiplexer.Testing.TestCertificates.Pem(certificate));
            }

            var validator = new RedisSessionStoreOptionsValidator();
            var missing = validator.Validate(null, new RedisSessionStoreOptions { Configuration = "redis:6380,ssl=true", CertificateAuthorityPath = Path.Combine(directory.FullName, "absent.pem") });
            var empty = validator.Validate(null, new RedisSessionStoreOptions { Configuration = "redis:6380,ssl=true", CertificateAuthorityPath = notPem });
            var plain = validator.Validate(null, new RedisSessionStoreOptions { Configuration = "redis:6379", CertificateAuthorityPath = ca });
            var good = validator.Validate(null, new RedisSessionStoreOptions { Configuration = "redis:6380,ssl=true", CertificateAuthorityPath = ca });

            StringAssert.Contains(missing.FailureMessage, "CertificateAuthorityPath");
            StringAssert.Contains(missing.FailureMessage, "does not exist");
            StringAssert.Contains(empty.FailureMessage, "holds no certificate");
            StringAssert.Contains(plain.FailureMessage, "ssl=true");
            Assert.IsTrue(good.Succeeded, good.FailureMessage);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [TestMethod]
    public async Task HostWithoutConfiguration_FailsAtStartUp_NamingTheKey()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddSparkConnectGateway(o =>
        {
            o.Authentication.Mode = GatewayAuthenticationMode.None;
            o.Engines.Default = new StaticEngineOptions { Address = "http://127.0.0.1:15003" };
        }).AddRedisSessionStore();
        await using var app = builder.Build();

        var failure = await Assert.ThrowsExactlyAsync<OptionsValidationException>(() => app.StartAsync());

        StringAssert.Contains(failure.Message, "SparkConnectGateway:Redis:Configuration is required");
    }
}
