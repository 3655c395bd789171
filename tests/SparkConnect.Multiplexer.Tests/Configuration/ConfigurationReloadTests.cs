using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Processes;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Configuration;

[TestClass]
public sealed class ConfigurationReloadTests
{
    private const string DeniedAddress = "SparkConnectGateway:Limits:DeniedClientAddresses:0";

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Reload_ThatFailsValidation_IsLoggedAndNotApplied_UntilAGoodOneLoads()
    {
        var logs = new CapturingLoggerProvider();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseSetting("urls", "http://127.0.0.1:0");
        builder.Logging.AddProvider(logs);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SparkConnectGateway:Authentication:Mode"] = "None",
            ["SparkConnectGateway:Engines:Default:Address"] = "http://127.0.0.1:15003",
            [DeniedAddress] = "10.1.0.0/16",
        });
        builder.Services.AddSparkConnectGateway();
        await using var app = builder.Build();
        await app.StartAsync(TestContext.CancellationToken);
        var monitor = app.Services.GetRequiredService<IOptionsMonitor<SparkConnectGatewayOptions>>();
        var changes = 0;
        using var listener = monitor.OnChange((_, _) => changes++);
        var configuration = (IConfigurationRoot)app.Configuration;
        var memory = configuration.Providers.OfType<MemoryConfigurationProvider>().Last();

        memory.Set(DeniedAddress, "10.1.0.0/33");
        memory.Set("SparkConnectGateway:DefaultShareLevel", "Cluster");
        configuration.Reload();

        // The last good options stay in force; reading them does not throw (every call did). Readiness says not ready,
        // so a rollout of the bad configuration stops here.
        var health = app.Services.GetRequiredService<HealthCheckService>();
        var report = await health.CheckHealthAsync(TestContext.CancellationToken);
        Assert.AreEqual(HealthStatus.Unhealthy, report.Entries["spark_connect_gateway"].Status);
        StringAssert.Contains(report.Entries["spark_connect_gateway"].Description, "refused with 1 problem(s)");
        CollectionAssert.AreEqual(new[] { "10.1.0.0/16" }, monitor.CurrentValue.Limits.DeniedClientAddresses.ToArray());
        Assert.AreEqual(0, changes);
        // The monitor's own lines (the health check service also logs the unhealthy readiness, quoting the problem count).
        var errors = logs.Entries.Where(e => e.Level == LogLevel.Error && e.Category.Contains("LastGoodOptionsMonitor", StringComparison.Ordinal)).Select(e => e.Message).ToList();
        Assert.AreEqual(1, errors.Count(m => m.Contains("refused with 1 problem(s)", StringComparison.Ordinal)), string.Join("\n", errors));
        Assert.IsTrue(errors.Any(m => m.Contains("SparkConnectGateway:DefaultShareLevel is 'Cluster'", StringComparison.Ordinal)), string.Join("\n", errors));

        // Fixed value by value: the CIDR problem is the next one found, and refused as well.
        memory.Set("SparkConnectGateway:DefaultShareLevel", "User");
        configuration.Reload();
        CollectionAssert.AreEqual(new[] { "10.1.0.0/16" }, monitor.CurrentValue.Limits.DeniedClientAddresses.ToArray());
        errors = [.. logs.Entries.Where(e => e.Level == LogLevel.Error).Select(e => e.Message)];
        Assert.IsTrue(errors.Any(m => m.Contains("DeniedClientAddresses has '10.1.0.0/33'", StringComparison.Ordinal)), string.Join("\n", errors));

        memory.Set(DeniedAddress, "10.2.0.0/16");
        configuration.Reload();

        CollectionAssert.AreEqual(new[] { "10.2.0.0/16" }, monitor.CurrentValue.Limits.DeniedClientAddresses.ToArray());
        Assert.IsGreaterThanOrEqualTo(1, changes);
        report = await health.CheckHealthAsync(TestContext.CancellationToken);
        Assert.AreEqual(HealthStatus.Healthy, report.Entries["spark_connect_gateway"].Status);
        Assert.IsTrue(logs.Entries.Any(e => e.Message.Contains("reloaded and is valid again", StringComparison.Ordinal)));
        await app.StopAsync(TestContext.CancellationToken);
    }

    [TestMethod]
    public async Task Reload_OfPackageSectionThatFailsValidation_KeepsItsLastGoodOptions()
    {
        var logs = new CapturingLoggerProvider();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseSetting("urls", "http://127.0.0.1:0");
        builder.Logging.AddProvider(logs);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SparkConnectGateway:Authentication:Mode"] = "None",
            ["SparkConnectGateway:ProcessEngines:Command"] = "/bin/true",
            ["SparkConnectGateway:ProcessEngines:Arguments:0"] = "{port}",
            ["SparkConnectGateway:ProcessEngines:MaxEngines"] = "7",
        });
        builder.Services.AddSparkConnectGateway().AddProcessEngines();
        await using var app = builder.Build();
        await app.StartAsync(TestContext.CancellationToken);
        var monitor = app.Services.GetRequiredService<IOptionsMonitor<ProcessEngineOptions>>();
        var configuration = (IConfigurationRoot)app.Configuration;
        var memory = configuration.Providers.OfType<MemoryConfigurationProvider>().Last();

        memory.Set("SparkConnectGateway:ProcessEngines:MaxEngines", "seven");
        configuration.Reload();

        Assert.AreEqual(7, monitor.CurrentValue.MaxEngines);
        Assert.IsTrue(logs.Entries.Any(e => e.Level == LogLevel.Error && e.Message.Contains("SparkConnectGateway:ProcessEngines:MaxEngines is 'seven'", StringComparison.Ordinal)));
        await app.StopAsync(TestContext.CancellationToken);
    }
}
