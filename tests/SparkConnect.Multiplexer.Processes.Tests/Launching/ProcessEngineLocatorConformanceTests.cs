using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Processes.Tests.Infrastructure;
using SparkConnect.Multiplexer.TestKit;

namespace SparkConnect.Multiplexer.Processes.Tests.Launching;

/// <summary>
/// The shared <see cref="IEngineLocator"/> conformance suite against the process launcher, launching the test engine
/// host as real processes in a temporary working directory (removed after each test; the suite's host stop stops the
/// engines).
/// </summary>
[TestClass]
public sealed class ProcessEngineLocatorConformanceTests : EngineLocatorConformanceTests
{
    private readonly string _workRoot = Path.Combine(Path.GetTempPath(), "launching-conformance-" + Guid.NewGuid().ToString("N")[..12]);

    protected override Task AfterGatewaysStoppedAsync()
    {
        if (Directory.Exists(_workRoot))
        {
            Directory.Delete(_workRoot, recursive: true);
        }

        return Task.CompletedTask;
    }

    protected override void ConfigureLocator(ISparkConnectGatewayBuilder gateway) => gateway.AddProcessEngines(o =>
    {
        LaunchingGateway.UseTestEngine(o);
        o.WorkingDirectory = _workRoot;
    });

    // An engine command that does not exist: every launch fails.
    protected override bool ConfigureFailingLocator(ISparkConnectGatewayBuilder gateway)
    {
        gateway.AddProcessEngines(o =>
        {
            LaunchingGateway.UseTestEngine(o);
            o.Command = Path.Combine(_workRoot, "no-such-engine");
            o.WorkingDirectory = _workRoot;
        });
        return true;
    }
}
