namespace SparkConnect.Multiplexer;

/// <summary>Finds, or launches, the engine a new Spark Connect session should use.</summary>
/// <remarks>
/// Called once per new session (the session then stays bound to the returned engine), and again for a bound
/// session only when this gateway instance does not know the bound engine's endpoint (then with
/// <see cref="EngineRequest.MayLaunch"/> <see langword="false"/>). Implementations are
/// singletons and are called concurrently.
/// </remarks>
public interface IEngineLocator
{
    /// <summary>Returns the engine for <paramref name="request"/>.</summary>
    /// <param name="request">The principal, engine key, session id and routing hints.</param>
    /// <param name="cancellationToken">Cancelled when the client goes away or the call's deadline passes.</param>
    /// <returns>The engine endpoint.</returns>
    /// <exception cref="EngineLocationException">No engine can serve the request; the message tells the client why.</exception>
    /// <exception cref="EngineNotRunningException">
    /// <see cref="EngineRequest.MayLaunch"/> is <see langword="false"/> and no engine runs for the request's key.
    /// </exception>
    ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken);
}
