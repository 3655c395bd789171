using k8s;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Kubernetes.Internal;

/// <summary>
/// The package's own API client, created on first use from the validated options: an explicit server, a kubeconfig
/// file, the in-cluster service account, or the default kubeconfig, in that order.
/// </summary>
internal sealed class KubernetesClientProvider(IOptions<KubernetesEngineOptions> options, InClusterConfiguration inCluster) : IDisposable
{
    private readonly Lazy<IKubernetes> _client = new(() => new k8s.Kubernetes(ConfigurationFor(options.Value, inCluster)), LazyThreadSafetyMode.ExecutionAndPublication);

    public IKubernetes Client => _client.Value;

    public static KubernetesClientConfiguration ConfigurationFor(KubernetesEngineOptions options, InClusterConfiguration inCluster)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(inCluster);
        if (options.Server is { } server)
        {
            return new KubernetesClientConfiguration { Host = server.ToString(), AccessToken = options.AccessToken };
        }

        if (options.KubeConfigPath is { Length: > 0 } path)
        {
            return KubernetesClientConfiguration.BuildConfigFromConfigFile(path, options.KubeConfigContext);
        }

        return inCluster.NotInClusterReason is null
            ? inCluster.CreateConfiguration()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile(currentContext: options.KubeConfigContext);
    }

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            _client.Value.Dispose();
        }
    }
}
