using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Hosting;

[TestClass]
public sealed class LocalEngineOptionsValidatorTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Start_WithBadMaxBatchBytes_NamesTheFullKeyOnce()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SparkConnectGateway:Authentication:Mode"] = "None",
            ["SparkConnectGateway:LocalEngine:MaxBatchBytes"] = "10",
        });
        builder.Services.AddSparkConnectGateway().AddLocalEngines();
        await using var app = builder.Build();

        var error = await Assert.ThrowsExactlyAsync<OptionsValidationException>(() => app.StartAsync(TestContext.CancellationToken));

        Assert.AreEqual(
            "SparkConnectGateway:LocalEngine:MaxBatchBytes is 10; set it to at least 1024 (default 4194304).",
            string.Join("\n", error.Failures));
    }
}
