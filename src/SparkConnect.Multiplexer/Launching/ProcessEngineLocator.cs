namespace SparkConnect.Multiplexer.Launching;

/// <summary>The <see cref="IEngineLocator"/> that launches an engine process per engine key when none is running.</summary>
internal sealed class ProcessEngineLocator(ProcessEngineManager engines) : IEngineLocator
{
    public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
        => engines.LocateAsync(request, cancellationToken);
}
