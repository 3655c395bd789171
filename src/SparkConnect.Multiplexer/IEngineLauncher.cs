namespace SparkConnect.Multiplexer;

/// <summary>
/// A locator that starts engines, as a coordinating locator drives it: the ZooKeeper package takes a lock per engine
/// key, asks the launcher for the engine, registers it for the other replicas and presents its token. Implemented by
/// the process launcher (<c>AddProcessEngines()</c>); a third-party launcher implements it to be coordinated the same way.
/// </summary>
public interface IEngineLauncher : ILaunchedEngines
{
    /// <summary>The running engine for the request's key, launched first when there is none and the request may launch.</summary>
    /// <param name="request">As an <see cref="IEngineLocator"/> gets it.</param>
    /// <param name="cancellationToken">Ends this caller's wait; the launch goes on for others.</param>
    /// <returns>The engine, ready.</returns>
    ValueTask<EngineEndpoint> LaunchAsync(EngineRequest request, CancellationToken cancellationToken);

    /// <summary>Whether a launcher of this kind made the id, on this replica or another (its token can then be derived).</summary>
    /// <param name="engineId">An engine id, e.g. from a ZooKeeper node.</param>
    /// <returns><see langword="true"/> for ids such a launcher made.</returns>
    bool IsLaunchedEngineId(string engineId);

    /// <summary>The token to present to the engine, also for one another replica launched; null when engines get none.</summary>
    /// <param name="engineId">The engine's id.</param>
    /// <returns>The token, or null.</returns>
    string? AccessTokenFor(string engineId);

    /// <summary>
    /// Why engines this launcher starts cannot be shared with other replicas as configured (each gets a token only
    /// this replica knows), with the fix; null when they can.
    /// </summary>
    string? SharingProblem { get; }

    /// <summary>
    /// The host name or address launched engines listen on, which a coordinating locator registers for other replicas
    /// (it warns when that is a loopback name no other machine can reach).
    /// </summary>
    string EngineHost { get; }

    /// <summary>
    /// How often the launcher checks its engines for idleness; a coordinating locator refreshes its marks of which
    /// engines it uses at the same pace, so that a mark never looks stale between two of the launcher's checks.
    /// </summary>
    TimeSpan IdleCheckInterval { get; }
}
