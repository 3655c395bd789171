using SparkConnect.Multiplexer.Hosting;
using SparkConnect.Multiplexer.Sessions;

namespace SparkConnect.Multiplexer.Engines;

/// <summary>The gateway's pieces a launcher needs, behind the public <see cref="IEngineLauncherServices"/>.</summary>
internal sealed class EngineLauncherServices(EngineCaller caller, EngineChannelPool channels, GatewayShutdown shutdown, ISessionStore store) : IEngineLauncherServices
{
    public bool SessionsOutliveProcess => store is not InMemorySessionStore;

    public async Task<bool> ProbeAsync(EngineEndpoint engine, string probeSessionId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentException.ThrowIfNullOrEmpty(probeSessionId);
        var (healthy, _) = await caller.ProbeAsync(engine, probeSessionId, timeout, cancellationToken).ConfigureAwait(false);
        return healthy;
    }

    public void ForgetConnections(EngineEndpoint engine) => channels.Forget(engine);

    public Task WaitForDrainAsync(CancellationToken cancellationToken) => shutdown.WaitForDrainAsync(cancellationToken);
}
