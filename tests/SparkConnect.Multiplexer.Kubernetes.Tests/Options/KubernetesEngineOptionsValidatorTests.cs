using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Kubernetes.Internal;
using SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Kubernetes.Tests;

/// <summary>The start-up checks of how the client finds its cluster.</summary>
[TestClass]
public sealed class KubernetesEngineOptionsValidatorTests
{
    [TestMethod]
    public void Validate_InClusterServiceAccount_Succeeds()
    {
        using var authority = TestCertificates.CreateCa("Stand-in cluster CA");
        using var account = new ServiceAccountDirectory("the-token", authority);

        var result = Validate(Minimal(), account.Configuration(new Uri("https://10.96.0.1:443"), TimeProvider.System));

        Assert.IsTrue(result.Succeeded, result.FailureMessage);
    }

    [TestMethod]
    public void Validate_InClusterWithBadPortAndCa_NamesBothAndTheFix()
    {
        using var account = new ServiceAccountDirectory("the-token");
        File.WriteAllText(account.CaPath, "");
        var inCluster = new InClusterConfiguration(account.Path, "10.96.0.1", "0", TimeSpan.FromMinutes(1), TimeProvider.System);

        var result = Validate(Minimal(), inCluster);

        Assert.IsTrue(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.HasCount(2, failures, result.FailureMessage);
        Assert.IsTrue(failures.All(f => f.StartsWith("The in-cluster configuration cannot be used: ", StringComparison.Ordinal) && f.Contains("set SparkConnectGateway:Kubernetes:Server or SparkConnectGateway:Kubernetes:KubeConfigPath", StringComparison.Ordinal)), result.FailureMessage);
        Assert.Contains("KUBERNETES_SERVICE_PORT '0' is not a TCP port", result.FailureMessage);
        Assert.Contains("ca.crt holds no PEM certificate", result.FailureMessage);
    }

    [TestMethod]
    public void Validate_NotInClusterAndNoKubeConfig_SaysWhyAndHowToFix()
    {
        if (Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 } || File.Exists(k8s.KubernetesClientConfiguration.KubeConfigDefaultLocation))
        {
            Assert.Inconclusive("This machine has a default kubeconfig, which the validator rightly accepts.");
        }

        var result = Validate(Minimal(), ServiceAccountDirectory.NotInCluster);

        Assert.IsTrue(result.Failed);
        Assert.Contains("No Kubernetes configuration was found: this process does not run in a pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set)", result.FailureMessage);
        Assert.Contains("Set SparkConnectGateway:Kubernetes:KubeConfigPath, SparkConnectGateway:Kubernetes:Server, or KUBECONFIG", result.FailureMessage);
    }

    [TestMethod]
    public void Validate_KubeConfigContextNotInFile_ListsTheFilesContexts()
    {
        var path = WriteKubeConfig("current-context: one");
        try
        {
            var options = Minimal();
            options.KubeConfigPath = path;
            options.KubeConfigContext = "three";

            var result = Validate(options, ServiceAccountDirectory.NotInCluster);

            Assert.IsTrue(result.Failed);
            Assert.Contains($"SparkConnectGateway:Kubernetes:KubeConfigContext 'three' is not a context of '{path}' (it has: one, two)", result.FailureMessage);
            options.KubeConfigContext = "two";
            Assert.IsTrue(Validate(options, ServiceAccountDirectory.NotInCluster).Succeeded);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void Validate_KubeConfigWithoutCurrentContext_AsksForOne()
    {
        var path = WriteKubeConfig("");
        try
        {
            var options = Minimal();
            options.KubeConfigPath = path;

            var result = Validate(options, ServiceAccountDirectory.NotInCluster);

            Assert.IsTrue(result.Failed);
            Assert.Contains($"'{path}' names no current-context: set SparkConnectGateway:Kubernetes:KubeConfigContext to one of its contexts (one, two)", result.FailureMessage);
            options.KubeConfigContext = "one";
            Assert.IsTrue(Validate(options, ServiceAccountDirectory.NotInCluster).Succeeded);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void Validate_KubeConfigNotYaml_SaysItCouldNotBeRead()
    {
        var path = Path.Combine(Path.GetTempPath(), "kubeconfig-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, "clusters: [unclosed\n");
        try
        {
            var options = Minimal();
            options.KubeConfigPath = path;

            var result = Validate(options, ServiceAccountDirectory.NotInCluster);

            Assert.IsTrue(result.Failed);
            Assert.Contains($"SparkConnectGateway:Kubernetes:KubeConfigPath '{path}' could not be read as a kubeconfig file", result.FailureMessage);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void Validate_BadCapsPatternsAndLaunchedByLabel_NamesEachWithItsFix()
    {
        using var authority = TestCertificates.CreateCa("Stand-in cluster CA");
        using var account = new ServiceAccountDirectory("the-token", authority);
        var options = Minimal();
        options.MaxEngines = -1;
        options.MaxEnginesPerUser = -1;
        options.RedactedKeyPatterns = ["*secret*", "*"];
        options.Labels.LaunchedBy = options.Labels.Owner;

        var result = Validate(options, account.Configuration(new Uri("https://10.96.0.1:443"), TimeProvider.System));

        Assert.IsTrue(result.Failed);
        Assert.HasCount(4, result.Failures!, result.FailureMessage);
        Assert.Contains("SparkConnectGateway:Kubernetes:MaxEngines is -1: set a positive number", result.FailureMessage);
        Assert.Contains("SparkConnectGateway:Kubernetes:MaxEnginesPerUser is -1: set a positive number", result.FailureMessage);
        Assert.Contains("SparkConnectGateway:Kubernetes:RedactedKeyPatterns:1 is '*'", result.FailureMessage);
        Assert.Contains("ShareLevel, Owner, Subdomain, ManagedBy and LaunchedBy must be five different label names", result.FailureMessage);
    }

    private static ValidateOptionsResult Validate(KubernetesEngineOptions options, InClusterConfiguration inCluster)
        => new KubernetesEngineOptionsValidator(inCluster).Validate(Options.DefaultName, options);

    private static KubernetesEngineOptions Minimal()
    {
        var options = new KubernetesEngineOptions();
        options.Namespaces.Add("spark");
        options.PodTemplate.Image = "apache/spark:4.0.1";
        return options;
    }

    private static string WriteKubeConfig(string currentContext)
    {
        var path = Path.Combine(Path.GetTempPath(), "kubeconfig-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, $$"""
            apiVersion: v1
            kind: Config
            {{currentContext}}
            clusters:
            - name: c
              cluster:
                server: https://one.example:6443
            users:
            - name: u
              user:
                token: not-a-real-token
            contexts:
            - name: one
              context: { cluster: c, user: u }
            - name: two
              context: { cluster: c, user: u }
            """);
        return path;
    }
}
