namespace SparkConnect.Multiplexer;

/// <summary>
/// What the gateway offers a locator that starts and stops engines itself, besides <see cref="IEngineLifecycle"/>:
/// asking a starting engine whether it answers, dropping the connections of one that goes without a report, waiting
/// for running calls at shutdown, and whether sessions outlive this gateway process. The process launcher
/// (<c>AddProcessEngines()</c>, package SparkConnect.Multiplexer.Processes) is built on it; a third-party launcher may
/// use it the same way. Resolve it from the service provider (it is registered by <c>AddSparkConnectGateway()</c>).
/// </summary>
public interface IEngineLauncherServices
{
    /// <summary>
    /// Asks the engine a Spark Connect Config call, over the gateway's pooled connections and with the endpoint's
    /// <see cref="EngineEndpoint.AccessToken"/>: whether it is up and serving.
    /// </summary>
    /// <param name="engine">The engine to ask.</param>
    /// <param name="probeSessionId">The session id the call uses (a UUID); reuse one per engine, so probes do not pile sessions up on it.</param>
    /// <param name="timeout">How long the engine has to answer.</param>
    /// <param name="cancellationToken">Cancelled when the asker gives up.</param>
    /// <returns><see langword="true"/> when the engine answered with status OK.</returns>
    Task<bool> ProbeAsync(EngineEndpoint engine, string probeSessionId, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>
    /// Drops the gateway's pooled connections to an engine that is gone or no longer this gateway's without a report to
    /// <see cref="IEngineLifecycle"/> (a launch that failed after it was probed, an engine handed over to another
    /// gateway), so connections do not pile up as engines come and go. Call it once the engine is out of service.
    /// </summary>
    /// <param name="engine">The engine.</param>
    void ForgetConnections(EngineEndpoint engine);

    /// <summary>
    /// Completes when no call is running through the gateway, or when the drain time
    /// (<see cref="SparkConnectGatewayOptions.DrainTimeout"/>) of a gateway that is stopping is over. Hosted services stop before the server has finished draining, so a launcher that stops engines
    /// with the host waits here first: running streams still need their engines.
    /// </summary>
    /// <param name="cancellationToken">The host's stop token.</param>
    /// <returns>A task that completes when the calls have ended or may be cut.</returns>
    Task WaitForDrainAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Whether the session store keeps sessions beyond this gateway process (any store but the built-in in-memory
    /// one): engines with sessions may then be used after this gateway stops, by the gateway started next.
    /// </summary>
    bool SessionsOutliveProcess { get; }
}
