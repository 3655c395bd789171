using Microsoft.Extensions.Hosting;

namespace SparkConnect.Multiplexer.LocalEngine.Hosting;

/// <summary>
/// The lifetime of an engine's inner web host: it never listens to Ctrl+C or SIGTERM itself. An engine lives
/// inside someone else's process (the gateway, a test, the Host sample), and only that process decides when it
/// stops, by disposing the engine.
/// </summary>
internal sealed class EmbeddedHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
