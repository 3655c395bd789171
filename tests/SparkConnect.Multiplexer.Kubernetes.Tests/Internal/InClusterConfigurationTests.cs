using k8s.Exceptions;
using Microsoft.Extensions.Time.Testing;
using SparkConnect.Multiplexer.Kubernetes.Internal;
using SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Kubernetes.Tests.Internal;

[TestClass]
public sealed class InClusterConfigurationTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void FromEnvironment_ServiceVariables_StandardDirectoryAndVariablesRead()
    {
        var variables = new Dictionary<string, string?>
        {
            ["KUBERNETES_SERVICE_HOST"] = "10.96.0.1",
            ["KUBERNETES_SERVICE_PORT"] = "443",
        };

        var configuration = InClusterConfiguration.FromEnvironment(name => variables.GetValueOrDefault(name), TimeProvider.System);

        Assert.AreEqual("/var/run/secrets/kubernetes.io/serviceaccount", configuration.ServiceAccountDirectory);
        Assert.AreEqual("10.96.0.1", configuration.ServiceHost);
        Assert.AreEqual("443", configuration.ServicePort);
        Assert.AreEqual(TimeSpan.FromMinutes(1), configuration.TokenRefreshInterval);
    }

    [TestMethod]
    public async Task CreateConfiguration_ServiceAccountDirectory_HttpsToServiceTrustingCaWithFileToken()
    {
        using var authority = TestCertificates.CreateCa("Stand-in cluster CA");
        using var account = new ServiceAccountDirectory("the-token", authority);
        var inCluster = new InClusterConfiguration(account.Path, "10.96.0.1", "6443", TimeSpan.FromMinutes(1), TimeProvider.System);

        Assert.IsNull(inCluster.NotInClusterReason);
        Assert.IsEmpty(inCluster.Problems());
        var configuration = inCluster.CreateConfiguration();

        Assert.AreEqual(new Uri("https://10.96.0.1:6443/"), new Uri(configuration.Host));
        Assert.AreEqual(authority.Thumbprint, configuration.SslCaCerts.Single().Thumbprint);
        Assert.IsFalse(configuration.SkipTlsVerify);
        Assert.IsInstanceOfType<ServiceAccountTokenProvider>(configuration.TokenProvider);
        var header = await configuration.TokenProvider.GetAuthenticationHeaderAsync(TestContext.CancellationToken);
        Assert.AreEqual("Bearer", header.Scheme);
        Assert.AreEqual("the-token", header.Parameter);
    }

    [TestMethod]
    public void CreateConfiguration_IPv6ServiceHost_Bracketed()
    {
        using var authority = TestCertificates.CreateCa("Stand-in cluster CA");
        using var account = new ServiceAccountDirectory("the-token", authority);

        var configuration = new InClusterConfiguration(account.Path, "fd00:10:96::1", "443", TimeSpan.FromMinutes(1), TimeProvider.System).CreateConfiguration();

        Assert.AreEqual("https://[fd00:10:96::1]/", configuration.Host);
    }

    [TestMethod]
    public void NotInClusterReason_MissingPiece_NamesIt()
    {
        using var authority = TestCertificates.CreateCa("Stand-in cluster CA");
        using var withCa = new ServiceAccountDirectory("the-token", authority);
        using var withoutCa = new ServiceAccountDirectory("the-token");

        StringAssert.Contains(new InClusterConfiguration(withCa.Path, null, "443", TimeSpan.FromMinutes(1), TimeProvider.System).NotInClusterReason, "KUBERNETES_SERVICE_HOST");
        StringAssert.Contains(new InClusterConfiguration(withCa.Path, "10.96.0.1", "", TimeSpan.FromMinutes(1), TimeProvider.System).NotInClusterReason, "KUBERNETES_SERVICE_PORT");
        StringAssert.Contains(new InClusterConfiguration(withoutCa.Path, "10.96.0.1", "443", TimeSpan.FromMinutes(1), TimeProvider.System).NotInClusterReason, withoutCa.CaPath);
        File.Delete(withCa.TokenPath);
        var noToken = new InClusterConfiguration(withCa.Path, "10.96.0.1", "443", TimeSpan.FromMinutes(1), TimeProvider.System);
        StringAssert.Contains(noToken.NotInClusterReason, withCa.TokenPath);
        Assert.ThrowsExactly<KubeConfigException>(noToken.CreateConfiguration);
    }

    [TestMethod]
    public void Problems_BadPortAndCaWithoutCertificate_BothNamed()
    {
        using var account = new ServiceAccountDirectory("the-token");
        File.WriteAllText(account.CaPath, "not a certificate\n");
        var inCluster = new InClusterConfiguration(account.Path, "10.96.0.1", "https", TimeSpan.FromMinutes(1), TimeProvider.System);

        var problems = inCluster.Problems();

        Assert.HasCount(2, problems);
        Assert.IsTrue(problems.Any(p => p.Contains("KUBERNETES_SERVICE_PORT 'https'", StringComparison.Ordinal)), string.Join(" | ", problems));
        Assert.IsTrue(problems.Any(p => p.Contains(account.CaPath + " holds no PEM certificate", StringComparison.Ordinal)), string.Join(" | ", problems));
        Assert.ThrowsExactly<KubeConfigException>(inCluster.CreateConfiguration);
    }

    [TestMethod]
    public async Task GetAuthenticationHeader_TokenFileRewritten_NewTokenOnlyAfterRefreshInterval()
    {
        using var account = new ServiceAccountDirectory("first-token");
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var provider = new ServiceAccountTokenProvider(account.TokenPath, TimeSpan.FromMinutes(1), clock);
        Assert.AreEqual("first-token", (await provider.GetAuthenticationHeaderAsync(TestContext.CancellationToken)).Parameter);

        account.WriteToken("second-token\n");
        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.AreEqual("first-token", (await provider.GetAuthenticationHeaderAsync(TestContext.CancellationToken)).Parameter, "read at most once per interval");

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.AreEqual("second-token", (await provider.GetAuthenticationHeaderAsync(TestContext.CancellationToken)).Parameter, "read again, trimmed, once the interval has passed");
    }
}
