using k8s;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Kubernetes.Internal;

/// <summary>
/// The package's own API client, created on first use from the validated options: an explicit server, a kubeconfig
/// file, the in-cluster service account, or the default kubeconfig, in that order.
/// </summary>
internal sealed class KubernetesClientProvider(IOptions<KubernetesEngineOptions> options) : IDisposable
{
    private readonly Lazy<IKubernetes> _client = new(() => Create(options.Value), LazyThreadSafetyMode.ExecutionAndPublication);

    public IKubernetes Client => _client.Value;

    public static KubernetesClientConfiguration ConfigurationFor(KubernetesEngineOptions options)
    {
        if (options.Server is { } server)
        {
            return new KubernetesClientConfiguration { Host = server.ToString(), AccessToken = options.AccessToken };
        }

        if (options.KubeConfigPath is { Length: > 0 } path)
        {
            return KubernetesClientConfiguration.BuildConfigFromConfigFile(path, options.KubeConfigContext);
        }

        return KubernetesClientConfiguration.IsInCluster()
            ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile(currentContext: options.KubeConfigContext);
    }

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            _client.Value.Dispose();
        }
    }

    private static k8s.Kubernetes Create(KubernetesEngineOptions options) => new k8s.Kubernetes(ConfigurationFor(options));
}
