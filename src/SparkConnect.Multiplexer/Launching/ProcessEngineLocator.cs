using SparkConnect.Multiplexer.Management;

namespace SparkConnect.Multiplexer.Launching;

/// <summary>The <see cref="IEngineLocator"/> that launches an engine process per engine key when none is running.</summary>
internal sealed class ProcessEngineLocator(ProcessEngineManager engines) : IEngineLocator, ILaunchedEngines
{
    public IReadOnlyList<LaunchedEngineInfo> LaunchedEngines
        => [.. engines.Engines.Select(e => new LaunchedEngineInfo(e.Id, e.Key, e.Endpoint?.Address, e.State.ToString(), e.RequestedAt, e.LastUsed, e.LaunchedBy))];

    public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
        => engines.LocateAsync(request, cancellationToken);

    public Task<bool> StopEngineAsync(string engineId, string reason, CancellationToken cancellationToken)
        => engines.StopEngineAsync(engineId, reason, cancellationToken);
}
