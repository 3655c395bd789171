using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Processes.Launching;

/// <summary>
/// The <see cref="IEngineLocator"/> that launches an engine process per engine key when none is running; also the
/// <see cref="IEngineLauncher"/> a coordinating locator (ZooKeeper) drives.
/// </summary>
internal sealed class ProcessEngineLocator(ProcessEngineManager engines, IOptionsMonitor<ProcessEngineOptions> options) : IEngineLocator, IEngineLauncher
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

    public string? SharingProblem
        => EngineCommandLine.UsesEngineToken(options.CurrentValue) && string.IsNullOrEmpty(options.CurrentValue.EngineTokenSecret)
            ? $"{ProcessEngineOptions.SectionName} passes engines {EngineCommandLine.EngineTokenPlaceholder}, and engines are shared between gateway replicas: a replica (or this one after a restart) must present the token of an engine it did not launch, and the engine's registration does not carry it. Set {ProcessEngineOptions.SectionName}:EngineTokenSecret to the same secret (at least {EngineAccessToken.MinSecretLength} characters, e.g. 'openssl rand -hex 32') on every replica; the token is then derived from it and the engine id."
            : null;

    public string EngineHost => options.CurrentValue.Host;

    public TimeSpan IdleCheckInterval => options.CurrentValue.IdleCheckInterval;

    public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
        => engines.LocateAsync(request, cancellationToken);

    public ValueTask<EngineEndpoint> LaunchAsync(EngineRequest request, CancellationToken cancellationToken)
        => engines.LocateAsync(request, cancellationToken);

    public bool IsLaunchedEngineId(string engineId) => ProcessEngineManager.IsLaunchedEngineId(engineId);

    public string? AccessTokenFor(string engineId) => engines.AccessTokenFor(engineId);

    public Task<bool> StopEngineAsync(string engineId, string reason, CancellationToken cancellationToken)
        => engines.StopEngineAsync(engineId, reason, cancellationToken);
}
