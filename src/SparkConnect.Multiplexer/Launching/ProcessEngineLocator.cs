namespace SparkConnect.Multiplexer.Launching;

/// <summary>The <see cref="IEngineLocator"/> that launches an engine process per engine key when none is running.</summary>
internal sealed class ProcessEngineLocator(ProcessEngineManager engines) : IEngineLocator, ILaunchedEngines
{
    public IReadOnlyList<LaunchedEngineInfo> LaunchedEngines
        => [.. engines.Engines.Select(e => new LaunchedEngineInfo
        {
            Id = e.Id,
            Key = e.Key,
            Address = e.Endpoint?.Address,
            State = e.State,
            StartedAt = e.RequestedAt,
            LastUsed = e.LastUsed,
            LaunchedBy = e.LaunchedBy,
            Adopted = e.Adopted,
        })];

    public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
        => engines.LocateAsync(request, cancellationToken);

    public Task<bool> StopEngineAsync(string engineId, string reason, CancellationToken cancellationToken)
        => engines.StopEngineAsync(engineId, reason, cancellationToken);
}
