namespace SparkConnect.Multiplexer.Kubernetes.Launching;

/// <summary>The <see cref="IEngineLocator"/> that finds (or launches) an engine pod per engine key.</summary>
internal sealed class KubernetesEngineLocator(KubernetesEngineManager engines) : IEngineLocator
{
    public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
        => engines.LocateAsync(request, cancellationToken);
}
