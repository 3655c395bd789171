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
        using var ca = TestCertificates.CreateCa("Test Engine CA");
        using var serverCertificate = TestCertificates.CreateServer(ca);
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
}
