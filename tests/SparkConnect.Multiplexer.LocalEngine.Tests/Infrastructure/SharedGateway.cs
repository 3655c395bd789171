[assembly: Microsoft.VisualStudio.TestTools.UnitTesting.Parallelize(Workers = 2, Scope = Microsoft.VisualStudio.TestTools.UnitTesting.ExecutionScope.ClassLevel)]

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;

/// <summary>
/// One gateway for the end-to-end tests, started on first use so unit tests never depend on it; every test uses
/// its own Spark session, so order does not matter.
/// </summary>
[TestClass]
public static class SharedGateway
{
    // Small batches so that "many batches" needs only a modest result.
    private static readonly Lazy<Task<LocalGateway>> Started = new(() => LocalGateway.StartAsync(o => o.MaxBatchBytes = 64 * 1024));

    internal static LocalGateway Host => Started.Value.GetAwaiter().GetResult();

    [AssemblyCleanup]
    public static async Task StopAsync()
    {
        await SharedEngine.StopAsync();
        if (Started.IsValueCreated && Started.Value.IsCompletedSuccessfully)
        {
            await (await Started.Value).DisposeAsync();
        }
    }
}
