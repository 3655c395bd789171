using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Tests.Configuration;

[TestClass]
public sealed class SparkConnectGatewayOptionsValidatorTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Start_WithBadConfiguration_FailsListingEveryErrorWithItsFix()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SparkConnectGateway:MaxMessageSize"] = "0",
            ["SparkConnectGateway:DefaultShareLevel"] = "Server",
            ["SparkConnectGateway:Authentication:Tokens:0:Token"] = "short",
            ["SparkConnectGateway:Engines:Default:Address"] = "localhost:15003",
        });
        builder.Services.AddSparkConnectGateway();
        await using var app = builder.Build();

        var error = await Assert.ThrowsExactlyAsync<OptionsValidationException>(() => app.StartAsync(TestContext.CancellationToken));

        var messages = string.Join("\n", error.Failures);
        StringAssert.Contains(messages, "MaxMessageSize is 0; set a number of bytes from 1 to 1073741824");
        StringAssert.Contains(messages, "AllowSharedEngines");
        StringAssert.Contains(messages, "Tokens:0:Token is shorter than 16 characters");
        StringAssert.Contains(messages, "Tokens:0:User is empty");
        StringAssert.Contains(messages, "Engines:Default:Address is 'localhost:15003'");
        Assert.AreEqual(5, error.Failures.Count(), messages);
    }

    [TestMethod]
    public async Task Start_WithNothingConfigured_SaysHowToAuthenticateAndRoute()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddSparkConnectGateway();
        await using var app = builder.Build();

        var error = await Assert.ThrowsExactlyAsync<OptionsValidationException>(() => app.StartAsync(TestContext.CancellationToken));

        var messages = string.Join("\n", error.Failures);
        StringAssert.Contains(messages, "No authentication is configured");
        StringAssert.Contains(messages, "No engine is configured");
    }

    [TestMethod]
    public void Configure_DelegateOverridesConfiguration()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SparkConnectGateway:MaxMessageSize"] = "1000",
            ["SparkConnectGateway:EngineConnectTimeout"] = "00:00:03",
            ["SparkConnectGateway:Authentication:Mode"] = "None",
            ["SparkConnectGateway:Engines:Default:Address"] = "http://127.0.0.1:15003",
        }).Build());
        services.AddSparkConnectGateway(o => o.MaxMessageSize = 2000);

        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<SparkConnectGatewayOptions>>();

        Assert.AreEqual(2000, options.Value.MaxMessageSize);
        Assert.AreEqual(TimeSpan.FromSeconds(3), options.Value.EngineConnectTimeout);
    }

    [TestMethod]
    public async Task Start_WithBadHealthAndLimits_NamesEachKeyAndValue()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SparkConnectGateway:Authentication:Mode"] = "None",
            ["SparkConnectGateway:Engines:Default:Address"] = "http://127.0.0.1:15003",
            ["SparkConnectGateway:Health:ProbeTimeout"] = "00:00:00",
            ["SparkConnectGateway:Health:FailuresBeforeLost"] = "0",
            ["SparkConnectGateway:Limits:MaxSessionsPerUser"] = "-1",
        });
        builder.Services.AddSparkConnectGateway();
        await using var app = builder.Build();

        var error = await Assert.ThrowsExactlyAsync<OptionsValidationException>(() => app.StartAsync(TestContext.CancellationToken));

        var messages = string.Join("\n", error.Failures);
        StringAssert.Contains(messages, "SparkConnectGateway:Health:ProbeTimeout is 00:00:00; set a positive duration");
        StringAssert.Contains(messages, "SparkConnectGateway:Health:FailuresBeforeLost is 0; set 1 or more");
        StringAssert.Contains(messages, "SparkConnectGateway:Limits:MaxSessionsPerUser is -1; set 0 (unlimited) or a positive number.");
        Assert.AreEqual(3, error.Failures.Count(), messages);
    }

    [TestMethod]
    public async Task Start_WithBadCallRates_NamesEachKeyWithItsFix()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SparkConnectGateway:Authentication:Mode"] = "None",
            ["SparkConnectGateway:Engines:Default:Address"] = "http://127.0.0.1:15003",
            ["SparkConnectGateway:Limits:CallsPerSecondPerUser"] = "-5",
            ["SparkConnectGateway:Limits:CallBurstPerClientAddress"] = "20",
            ["SparkConnectGateway:Limits:Users:carol:CallsPerSecond"] = "2000000",
            ["SparkConnectGateway:Limits:Groups:etl:MaxSessions"] = "-1",
            ["SparkConnectGateway:Limits:Groups:analysts:CallsPerSecond"] = "10",
            ["SparkConnectGateway:Limits:Groups:analysts:CallBurst"] = "40",
        });
        builder.Services.AddSparkConnectGateway();
        await using var app = builder.Build();

        var error = await Assert.ThrowsExactlyAsync<OptionsValidationException>(() => app.StartAsync(TestContext.CancellationToken));

        var messages = string.Join("\n", error.Failures);
        StringAssert.Contains(messages, "SparkConnectGateway:Limits:CallsPerSecondPerUser is -5; set 0 (unlimited) or a positive number.");
        StringAssert.Contains(messages, "SparkConnectGateway:Limits:CallBurstPerClientAddress is 20 but SparkConnectGateway:Limits:CallsPerSecondPerClientAddress is 0 (unlimited)");
        StringAssert.Contains(messages, "SparkConnectGateway:Limits:Users:carol:CallsPerSecond is 2000000; the highest rate the gateway limits is 1000000");
        StringAssert.Contains(messages, "SparkConnectGateway:Limits:Groups:etl:MaxSessions is -1; set 0 (unlimited) or a positive number, or leave it out");
        Assert.AreEqual(4, error.Failures.Count(), "the analysts' entry is valid: " + messages);
    }
}
