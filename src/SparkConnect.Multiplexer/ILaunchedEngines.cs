namespace SparkConnect.Multiplexer;

/// <summary>
/// An engine locator that launches engines, as operators see it through the admin API and dashboard: what it runs,
/// and stopping one. Implement it on your <see cref="IEngineLocator"/> when it starts engines; an engine no locator
/// lists is shown as one this gateway did not launch (and cannot stop).
/// </summary>
public interface ILaunchedEngines
{
    /// <summary>The engines starting, running or stopping, as a snapshot.</summary>
    IReadOnlyList<LaunchedEngineInfo> LaunchedEngines { get; }

    /// <summary>
    /// Stops a launched engine; report it through <see cref="IEngineLifecycle.ReportStopped"/> so its sessions are
    /// told once on their next call and released.
    /// </summary>
    /// <param name="engineId">The engine's id.</param>
    /// <param name="reason">Why (it names the administrator), for the sessions' clients and the log.</param>
    /// <param name="cancellationToken">Cancelled when the administrator's request goes away.</param>
    /// <returns><see langword="false"/> when this locator runs no engine with that id.</returns>
    Task<bool> StopEngineAsync(string engineId, string reason, CancellationToken cancellationToken);
}

/// <summary>Where a launched engine is in its life.</summary>
public enum LaunchedEngineState
{
    /// <summary>Launch requested: waiting for a launch slot, or started and not answering yet.</summary>
    Starting,

    /// <summary>Answering; handed out for new sessions of its key.</summary>
    Ready,

    /// <summary>Past its maximum lifetime: serves its sessions, gets no new ones, stops when they are gone.</summary>
    Retired,

    /// <summary>Being stopped by the gateway.</summary>
    Stopping,

    /// <summary>Gone.</summary>
    Ended,
}

/// <summary>One launched engine, as <see cref="ILaunchedEngines"/> lists it.</summary>
public sealed class LaunchedEngineInfo
{
    /// <summary>The engine's id (<see cref="EngineEndpoint.Id"/>).</summary>
    public required string Id { get; init; }

    /// <summary>The key it was launched for.</summary>
    public required EngineKey Key { get; init; }

    /// <summary>Where it listens, once known.</summary>
    public Uri? Address { get; init; }

    /// <summary>Where it is in its life.</summary>
    public required LaunchedEngineState State { get; init; }

    /// <summary>When its launch was requested.</summary>
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>When a session was last handed this engine or seen on it.</summary>
    public required DateTimeOffset LastUsed { get; init; }

    /// <summary>The user whose session caused the launch.</summary>
    public required string LaunchedBy { get; init; }

    /// <summary>Launched by a gateway that stopped and left it running; this one took it over.</summary>
    public bool Adopted { get; init; }
}
