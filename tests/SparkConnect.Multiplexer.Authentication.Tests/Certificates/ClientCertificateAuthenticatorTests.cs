using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Authentication.Certificates;
using SparkConnect.Multiplexer.Authentication.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Authentication.Tests.Certificates;

[TestClass]
public sealed class ClientCertificateAuthenticatorTests
{
    private static X509Certificate2 _ca = null!;
    private static X509Certificate2 _otherCa = null!;
    private static X509Certificate2 _server = null!;

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [ClassInitialize]
    public static void CreateCertificates(TestContext context)
    {
        _ = context;
        _ca = TestCertificates.CreateCa("Spark Gateway Test Client CA");
        _otherCa = TestCertificates.CreateCa("Some Other CA");
        _server = TestCertificates.CreateServer();
    }

    [ClassCleanup]
    public static void DisposeCertificates()
    {
        _ca.Dispose();
        _otherCa.Dispose();
        _server.Dispose();
    }

    [TestMethod]
    public async Task TrustedCertificate_UserFromCommonName_ReachesEngine()
    {
        using var client = TestCertificates.CreateClient(_ca, "CN=henry, OU=eng, OU=ops, O=Example");
        await using var gateway = await StartAsync(client, o => o.GroupsFromOrganizationalUnits = true);

        var seen = await gateway.CallAsUserAsync(null, "mallory", Cancel);

        Assert.AreEqual("henry", seen);
    }

    [TestMethod]
    public async Task CaFromFile_UserFromEmailSan()
    {
        var caFile = Path.Combine(Path.GetTempPath(), $"client-ca-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(caFile, TestCertificates.Pem(_ca), Cancel);
        try
        {
            using var client = TestCertificates.CreateClient(_ca, "CN=Ida Example", email: "ida@example.org");
            await using var gateway = await TestGateway.StartAsync(new TestGatewayOptions
            {
                ServerCertificate = _server,
                ClientCertificate = client,
                Configuration = new Dictionary<string, string?>
                {
                    ["SparkConnectGateway:Authentication:ClientCertificate:TrustedCaCertificates:0"] = caFile,
                    ["SparkConnectGateway:Authentication:ClientCertificate:UserSource"] = "Email",
                },
                Gateway = g => g.AddClientCertificateAuthenticator(),
            }, Cancel);

            var seen = await gateway.CallAsUserAsync(null, null, Cancel);

            Assert.AreEqual("ida@example.org", seen);
        }
        finally
        {
            File.Delete(caFile);
        }
    }

    [TestMethod]
    public async Task UserFromDnsOrUriSan()
    {
        using var client = TestCertificates.CreateClient(_ca, "CN=ignored", dnsName: "worker-7.example.org", uri: new Uri("spiffe://example.org/ns/spark/sa/jobs"));
        var authenticator = Create(o => o.UserSource = ClientCertificateUserSource.DnsName);
        var byUri = Create(o => o.UserSource = ClientCertificateUserSource.Uri);

        var dns = await authenticator.AuthenticateAsync(ContextWith(client), Cancel);
        var uri = await byUri.AuthenticateAsync(ContextWith(client), Cancel);

        Assert.AreEqual("worker-7.example.org", dns.Principal?.UserName);
        Assert.AreEqual("spiffe://example.org/ns/spark/sa/jobs", uri.Principal?.UserName);
    }

    [TestMethod]
    public async Task OrganizationalUnits_BecomeGroups()
    {
        using var client = TestCertificates.CreateClient(_ca, "CN=henry, OU=eng, OU=ops, O=Example");

        var result = await Create(o => o.GroupsFromOrganizationalUnits = true).AuthenticateAsync(ContextWith(client), Cancel);

        CollectionAssert.AreEquivalent(new[] { "eng", "ops" }, result.Principal!.Groups.ToArray());
    }

    [TestMethod]
    public async Task CertificateFromOtherCa_Unauthenticated()
    {
        using var client = TestCertificates.CreateClient(_otherCa, "CN=henry");
        await using var gateway = await StartAsync(client);

        var error = await gateway.CallExpectingErrorAsync(null, null, Cancel);

        Assert.AreEqual(StatusCode.Unauthenticated, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "not issued by a trusted CA");
        Assert.IsEmpty(gateway.Engine.Calls);
    }

    [TestMethod]
    public async Task ExpiredCertificate_Unauthenticated()
    {
        var now = DateTimeOffset.UtcNow;
        using var client = TestCertificates.CreateClient(_ca, "CN=henry", notBefore: now.AddDays(-10), notAfter: now.AddDays(-1));
        await using var gateway = await StartAsync(client);

        var error = await gateway.CallExpectingErrorAsync(null, null, Cancel);

        Assert.AreEqual(StatusCode.Unauthenticated, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "expired");
    }

    [TestMethod]
    public async Task ServerAuthenticationOnlyCertificate_Refused()
    {
        using var client = TestCertificates.CreateClient(_ca, "CN=henry", eku: "1.3.6.1.5.5.7.3.1");

        var result = await Create().AuthenticateAsync(ContextWith(client), Cancel);

        Assert.AreEqual(AuthenticationOutcome.Refused, result.Outcome);
        StringAssert.Contains(result.Reason, "client authentication");
    }

    [TestMethod]
    public async Task NoCertificate_FallsThroughToStaticToken()
    {
        await using var gateway = await StartAsync(clientCertificate: null);

        var seen = await gateway.CallAsUserAsync(TestGateway.Bearer(TestGateway.StaticToken), null, Cancel);
        var none = await gateway.CallExpectingErrorAsync(null, null, Cancel);

        Assert.AreEqual(TestGateway.StaticUser, seen);
        Assert.AreEqual(StatusCode.Unauthenticated, none.StatusCode);
    }

    [TestMethod]
    public void Validator_ListsEveryProblemWithItsKey()
    {
        var empty = new ClientCertificateAuthenticationOptionsValidator().Validate(null, new ClientCertificateAuthenticationOptions());
        var missing = new ClientCertificateAuthenticationOptions { UserSource = (ClientCertificateUserSource)42 };
        missing.TrustedCaCertificates.Add("/nonexistent/ca.pem");
        var bad = new ClientCertificateAuthenticationOptionsValidator().Validate(null, missing);

        Assert.IsTrue(empty.Failed);
        StringAssert.Contains(empty.FailureMessage, "ClientCertificate:TrustedCaCertificates");
        Assert.HasCount(2, bad.Failures!);
        StringAssert.Contains(bad.FailureMessage, "ClientCertificate:TrustedCaCertificates:0");
        StringAssert.Contains(bad.FailureMessage, "ClientCertificate:UserSource");
    }

    private static ClientCertificateAuthenticator Create(Action<ClientCertificateAuthenticationOptions>? configure = null)
    {
        var options = new ClientCertificateAuthenticationOptions();
        options.TrustedCaCertificates.Add(TestCertificates.Pem(_ca));
        configure?.Invoke(options);
        return new ClientCertificateAuthenticator(Options.Create(options), TimeProvider.System, NullLogger<ClientCertificateAuthenticator>.Instance);
    }

    private static AuthenticationContext ContextWith(X509Certificate2 certificate)
    {
        var http = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        http.Connection.ClientCertificate = certificate;
        return new AuthenticationContext(http, null);
    }

    private Task<TestGateway> StartAsync(X509Certificate2? clientCertificate, Action<ClientCertificateAuthenticationOptions>? configure = null)
        => TestGateway.StartAsync(new TestGatewayOptions
        {
            ServerCertificate = _server,
            ClientCertificate = clientCertificate,
            Gateway = g => g.AddClientCertificateAuthenticator(o =>
            {
                o.TrustedCaCertificates.Add(TestCertificates.Pem(_ca));
                configure?.Invoke(o);
            }),
        }, Cancel);
}
