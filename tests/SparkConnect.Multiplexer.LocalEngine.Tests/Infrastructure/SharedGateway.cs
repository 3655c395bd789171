[assembly: Microsoft.VisualStudio.TestTools.UnitTesting.Parallelize(Workers = 2, Scope = Microsoft.VisualStudio.TestTools.UnitTesting.ExecutionScope.ClassLevel)]

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;

/// <summary>One gateway for the end-to-end tests; every test uses its own Spark session, so order does not matter.</summary>
[TestClass]
public static class SharedGateway
{
    private static GatewayHost? _host;

    internal static GatewayHost Host => _host ?? throw new InvalidOperationException("The gateway did not start.");

    [AssemblyInitialize]
    public static async Task StartAsync(TestContext context)
    {
        // Small batches so that "many batches" needs only a modest result.
        _host = await GatewayHost.StartAsync(o => o.MaxBatchBytes = 64 * 1024);
    }

    [AssemblyCleanup]
    public static async Task StopAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}
