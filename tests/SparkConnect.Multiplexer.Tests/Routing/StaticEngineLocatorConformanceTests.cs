using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.TestKit;

namespace SparkConnect.Multiplexer.Tests.Routing;

/// <summary>
/// The shared <see cref="IEngineLocator"/> conformance suite against the built-in static locator (engines listed in
/// configuration). It never contacts the engine it names, so the address needs no server behind it.
/// </summary>
[TestClass]
public sealed class StaticEngineLocatorConformanceTests : EngineLocatorConformanceTests
{
    private const string EngineAddress = "http://127.0.0.1:15003";

    protected override bool LaunchesEngines => false;

    protected override void ConfigureLocator(ISparkConnectGatewayBuilder gateway)
        => gateway.Services.Configure<SparkConnectGatewayOptions>(o => o.Engines.Default = new StaticEngineOptions { Address = EngineAddress });

    // An engine for one other user only: the conformance users (fresh names) have none, and no default.
    protected override bool ConfigureFailingLocator(ISparkConnectGatewayBuilder gateway)
    {
        gateway.Services.Configure<SparkConnectGatewayOptions>(o => o.Engines.Users["someone-else"] = new StaticEngineOptions { Address = EngineAddress });
        return true;
    }
}
