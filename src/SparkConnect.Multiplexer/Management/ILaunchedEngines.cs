namespace SparkConnect.Multiplexer.Management;

/// <summary>
/// An engine locator that launches engines, as the admin API sees it: what it runs, and stopping one. Implemented by
/// the launching locators (processes, local engines); an engine none of them lists was not launched by this gateway.
/// </summary>
internal interface ILaunchedEngines
{
    /// <summary>The engines starting, running or stopping.</summary>
    IReadOnlyList<LaunchedEngineInfo> LaunchedEngines { get; }

    /// <summary>
    /// Stops a launched engine; its sessions are lost the usual way (told once on their next call, then released).
    /// </summary>
    /// <returns><see langword="false"/> when this locator does not run an engine with that id.</returns>
    Task<bool> StopEngineAsync(string engineId, string reason, CancellationToken cancellationToken);
}

/// <summary>One launched engine: id, key, address (once known), state, when it was started, when a session last used it, and for whom it was launched.</summary>
internal sealed record LaunchedEngineInfo(string Id, EngineKey Key, Uri? Address, string State, DateTimeOffset StartedAt, DateTimeOffset LastUsed, string LaunchedBy);
