using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.TestKit;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Hosting;

/// <summary>The shared <see cref="IEngineLocator"/> conformance suite against the embedded local engines (<c>AddLocalEngines()</c>).</summary>
[TestClass]
public sealed class LocalEngineLocatorConformanceTests : EngineLocatorConformanceTests
{
    private string? _notADirectory;

    protected override Task AfterGatewaysStoppedAsync()
    {
        if (_notADirectory is not null)
        {
            File.Delete(_notADirectory);
        }

        return Task.CompletedTask;
    }

    protected override void ConfigureLocator(ISparkConnectGatewayBuilder gateway) => gateway.AddLocalEngines();

    // A data directory that is a file: no engine can start.
    protected override bool ConfigureFailingLocator(ISparkConnectGatewayBuilder gateway)
    {
        _notADirectory = Path.GetTempFileName();
        gateway.AddLocalEngines(o => o.DataDirectory = _notADirectory);
        return true;
    }
}
