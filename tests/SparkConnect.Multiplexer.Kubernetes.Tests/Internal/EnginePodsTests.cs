using k8s.Models;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Kubernetes.Internal;
using SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.Kubernetes.Tests.Internal;

[TestClass]
public sealed class EnginePodsTests
{
    [TestMethod]
    [DataRow("alice")]
    [DataRow("USER")]
    [DataRow("a.b_c-d")]
    public void LabelValue_ValidValue_Unchanged(string value) => Assert.AreEqual(value, EnginePods.LabelValue(value));

    [TestMethod]
    [DataRow("alice@example.com")]
    [DataRow("CN=Alice Smith,OU=eng")]
    [DataRow("-leading")]
    [DataRow("a-very-long-user-name-that-goes-on-and-on-and-on-well-past-sixty-three-characters")]
    [DataRow("日本")]
    public void LabelValue_InvalidValue_ValidWithHashSuffix(string value)
    {
        var label = EnginePods.LabelValue(value);

        Assert.IsTrue(EnginePods.IsValidLabelValue(label), label);
        Assert.IsLessThanOrEqualTo(63, label.Length);
        Assert.AreNotEqual(EnginePods.LabelValue(value + "x"), label);
    }

    [TestMethod]
    public void PortOf_LabelAnnotationOrNamedContainerPort_InThatOrder()
    {
        var options = new KubernetesEngineOptions();
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "p", Labels = new Dictionary<string, string>(), Annotations = new Dictionary<string, string>() },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "driver", Ports = [new V1ContainerPort { Name = "ui", ContainerPort = 4040 }, new V1ContainerPort { Name = "spark-connect", ContainerPort = 15002 }] }] },
        };

        Assert.AreEqual(15002, EnginePods.PortOf(pod, options));
        pod.Metadata.Annotations[KubernetesEngineOptions.DefaultPortLabel] = "15003";
        Assert.AreEqual(15003, EnginePods.PortOf(pod, options));
        pod.Metadata.Labels[KubernetesEngineOptions.DefaultPortLabel] = "15004";
        Assert.AreEqual(15004, EnginePods.PortOf(pod, options));
        pod.Metadata.Labels[KubernetesEngineOptions.DefaultPortLabel] = "not-a-port";
        Assert.AreEqual(15003, EnginePods.PortOf(pod, options));
        options.PortName = "other";
        pod.Metadata.Annotations.Clear();
        Assert.IsNull(EnginePods.PortOf(pod, options));
    }

    [TestMethod]
    public void EngineIdOf_Pod_NamespaceNameAndUidPrefix()
    {
        var pod = new V1Pod { Metadata = new V1ObjectMeta { Name = "spark-connect-alice-1a2b3c4d", NamespaceProperty = "spark", Uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" } };

        Assert.AreEqual("k8s:spark/spark-connect-alice-1a2b3c4d:0f1e2d3c", EnginePods.EngineIdOf(pod));
    }

    [TestMethod]
    public void LabelValue_ValuesThatCleanAlike_Differ()
        => Assert.AreNotEqual(EnginePods.LabelValue("a@b"), EnginePods.LabelValue("a#b"));

    [TestMethod]
    public void Validate_EmptyOptions_ListsEveryProblemWithFix()
    {
        var options = new KubernetesEngineOptions { PortLabel = "bad label!", EngineIdleTimeout = TimeSpan.Zero, Server = new Uri("ftp://x") };
        options.Namespaces.Add("Not_A_Namespace");

        var result = new KubernetesEngineOptionsValidator(ServiceAccountDirectory.NotInCluster).Validate(Options.DefaultName, options);

        Assert.IsTrue(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.IsTrue(failures.Any(f => f.Contains(":Server", StringComparison.Ordinal)));
        Assert.IsTrue(failures.Any(f => f.Contains(":Namespaces:0", StringComparison.Ordinal)));
        Assert.IsTrue(failures.Any(f => f.Contains(":PortLabel", StringComparison.Ordinal)));
        Assert.IsTrue(failures.Any(f => f.Contains(":EngineIdleTimeout", StringComparison.Ordinal)));
        Assert.IsTrue(failures.Any(f => f.Contains(":PodTemplate:Image", StringComparison.Ordinal)));
    }

    [TestMethod]
    public void Validate_MinimalOptions_Succeeds()
    {
        var options = new KubernetesEngineOptions { Server = new Uri("https://10.0.0.1:6443") };
        options.Namespaces.Add("spark");
        options.PodTemplate.Image = "apache/spark:4.0.1";

        Assert.IsTrue(new KubernetesEngineOptionsValidator(ServiceAccountDirectory.NotInCluster).Validate(Options.DefaultName, options).Succeeded);
    }

    [TestMethod]
    public void ConfigurationFor_KubeConfigFile_UsesItsContext()
    {
        var path = Path.Combine(Path.GetTempPath(), "kubeconfig-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, """
            apiVersion: v1
            kind: Config
            current-context: one
            clusters:
            - name: c1
              cluster:
                server: https://one.example:6443
            - name: c2
              cluster:
                server: https://two.example:6443
            users:
            - name: u
              user:
                token: not-a-real-token
            contexts:
            - name: one
              context: { cluster: c1, user: u, namespace: spark }
            - name: two
              context: { cluster: c2, user: u }
            """);
        try
        {
            var options = new KubernetesEngineOptions { KubeConfigPath = path };
            Assert.AreEqual("https://one.example:6443/", new Uri(KubernetesClientProvider.ConfigurationFor(options, ServiceAccountDirectory.NotInCluster).Host).ToString());
            options.KubeConfigContext = "two";
            Assert.AreEqual("https://two.example:6443/", new Uri(KubernetesClientProvider.ConfigurationFor(options, ServiceAccountDirectory.NotInCluster).Host).ToString());
            options.Namespaces.Add("spark");
            options.PodTemplate.Image = "apache/spark:4.0.1";
            Assert.IsTrue(new KubernetesEngineOptionsValidator(ServiceAccountDirectory.NotInCluster).Validate(Options.DefaultName, options).Succeeded);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void Validate_MissingKubeConfigFile_SaysHowToFix()
    {
        var options = new KubernetesEngineOptions { KubeConfigPath = "/nonexistent/kubeconfig" };
        options.Namespaces.Add("spark");
        options.PodTemplate.Image = "apache/spark:4.0.1";

        var result = new KubernetesEngineOptionsValidator(ServiceAccountDirectory.NotInCluster).Validate(Options.DefaultName, options);

        Assert.IsTrue(result.Failed);
        Assert.Contains("KubeConfigPath", result.FailureMessage);
    }
}
