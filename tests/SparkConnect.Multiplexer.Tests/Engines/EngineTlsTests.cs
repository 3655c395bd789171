using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Engines;

[TestClass]
public sealed class EngineTlsTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task HttpsEngine_TrustedThroughConfiguredCa_OtherwiseUnavailable()
    {
        using var ca = CreateAuthority();
        using var serverCertificate = CreateServerCertificate(ca);
        await using var engine = await RecordingEngine.StartAsync("tls-engine", 0, serverCertificate, Cancel);
        var caPath = Path.Combine(Path.GetTempPath(), $"engine-ca-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(caPath, ca.ExportCertificatePem(), Cancel);
        try
        {
            await using (var trusting = await GatewayHost.StartAsync(o => o.Engines.Default = new StaticEngineOptions { Address = engine.Address.ToString(), CertificateAuthorityPath = caPath, Token = "engine-secret" }))
            {
                var reply = await trusting.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel);
                Assert.AreEqual("tls-engine", reply.ServerSideSessionId);
                Assert.AreEqual("Bearer engine-secret", engine.Calls.Single().Header("authorization"));
            }

            await using var untrusting = await GatewayHost.StartAsync(o => o.Engines.Default = new StaticEngineOptions { Address = engine.Address.ToString() });
            var refused = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
                await untrusting.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel));
            Assert.AreEqual(StatusCode.Unavailable, refused.StatusCode);
            Assert.AreEqual(1, engine.Calls.Count, "an engine with an untrusted certificate gets nothing");
        }
        finally
        {
            File.Delete(caPath);
        }
    }

    private static X509Certificate2 CreateAuthority()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Test Engine CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
    }

    private static X509Certificate2 CreateServerCertificate(X509Certificate2 ca)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var signed = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(50), RandomNumberGenerator.GetBytes(8));

        // Kestrel needs the private key in a form the platform's TLS stack can use.
        using var withKey = signed.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pfx), null);
    }
}
