using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Tests.Configuration;

[TestClass]
public sealed class ConfigurationSchemaTests
{
    public TestContext TestContext { get; set; } = null!;

    private static readonly Dictionary<string, string?> Valid = new()
    {
        ["SparkConnectGateway:Authentication:Mode"] = "None",
        ["SparkConnectGateway:Engines:Default:Address"] = "http://127.0.0.1:15003",
    };

    private async Task<string> StartFailureAsync(Dictionary<string, string?> settings, Action<ISparkConnectGatewayBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(Valid.Concat(settings));
        var gateway = builder.Services.AddSparkConnectGateway();
        configure?.Invoke(gateway);
        await using var app = builder.Build();

        var error = await Assert.ThrowsExactlyAsync<OptionsValidationException>(() => app.StartAsync(TestContext.CancellationToken));
        return string.Join("\n", error.Failures);
    }

    [TestMethod]
    public async Task Start_WithMisspeltShareLevelInRule_FailsInsteadOfAllowingEveryLevel()
    {
        var messages = await StartFailureAsync(new()
        {
            ["SparkConnectGateway:Authorization:Rules:0:Users:0"] = "alice",
            ["SparkConnectGateway:Authorization:Rules:0:ShareLevels:0"] = "Conection",
        });

        StringAssert.Contains(messages, "SparkConnectGateway:Authorization:Rules:0:ShareLevels:0 is 'Conection', which is not a valid value; use one of Connection, User, Group, Server.");
    }

    [TestMethod]
    public async Task Start_WithBadScalarValues_NamesEveryKeyValueAndFormat()
    {
        var messages = await StartFailureAsync(new()
        {
            ["SparkConnectGateway:DefaultShareLevel"] = "Cluster",
            ["SparkConnectGateway:Sessions:IdleTimeout"] = "10min",
            ["SparkConnectGateway:MaxMessageSize"] = "16MB",
            ["SparkConnectGateway:AllowSharedEngines"] = "yes",
            ["SparkConnectGateway:Routing:AllowedShareLevels:0"] = "User",
            ["SparkConnectGateway:Routing:AllowedShareLevels:1"] = "7",
        });

        StringAssert.Contains(messages, "SparkConnectGateway:DefaultShareLevel is 'Cluster', which is not a valid value; use one of Connection, User, Group, Server.");
        StringAssert.Contains(messages, "SparkConnectGateway:Sessions:IdleTimeout is '10min', which is not a duration; use the format [d.]hh:mm:ss, for example 00:10:00");
        StringAssert.Contains(messages, "SparkConnectGateway:MaxMessageSize is '16MB', which is not a whole number");
        StringAssert.Contains(messages, "SparkConnectGateway:AllowSharedEngines is 'yes', which is not a boolean; use true or false.");
        StringAssert.Contains(messages, "SparkConnectGateway:Routing:AllowedShareLevels:1 is '7'");
        Assert.AreEqual(5, messages.Split('\n').Length, messages);
    }

    [TestMethod]
    public async Task Start_WithValueWhereSectionExpected_SaysToSetItsKeys()
    {
        var messages = await StartFailureAsync(new() { ["SparkConnectGateway:Engines:Users:bob"] = "http://127.0.0.1:15004" });

        StringAssert.Contains(messages, "SparkConnectGateway:Engines:Users:bob is 'http://127.0.0.1:15004', but it is a section");
    }

    [TestMethod]
    public async Task Start_WithBadValueInProcessEngineSection_NamesTheFullKey()
    {
        var messages = await StartFailureAsync(
            new() { ["SparkConnectGateway:ProcessEngines:InitializationTimeout"] = "2m" },
            gateway => gateway.AddProcessEngines());

        StringAssert.Contains(messages, "SparkConnectGateway:ProcessEngines:InitializationTimeout is '2m', which is not a duration");
    }

    [TestMethod]
    public async Task Start_WithValidValuesInEveryForm_Starts()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseSetting("urls", "http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(Valid.Concat(new Dictionary<string, string?>
        {
            ["SparkConnectGateway:DefaultShareLevel"] = "user",
            ["SparkConnectGateway:Sessions:IdleTimeout"] = "1.00:00:00",
            ["SparkConnectGateway:Routing:AllowedShareLevels:0"] = "CONNECTION",
            ["SparkConnectGateway:Routing:AllowedShareLevels:1"] = "1",
            ["SparkConnectGateway:Authorization:Rules:0:ShareLevels:0"] = "Connection",
            ["SparkConnectGateway:Engines:Users:bob:Address"] = "http://127.0.0.1:15004",
        }));
        builder.Services.AddSparkConnectGateway();
        await using var app = builder.Build();

        await app.StartAsync(TestContext.CancellationToken);
        var options = app.Services.GetRequiredService<IOptions<SparkConnectGatewayOptions>>().Value;
        await app.StopAsync(TestContext.CancellationToken);

        Assert.AreEqual(ShareLevel.User, options.DefaultShareLevel);
        Assert.AreEqual(TimeSpan.FromDays(1), options.Sessions.IdleTimeout);
        CollectionAssert.AreEqual(new[] { ShareLevel.Connection, ShareLevel.User }, options.Routing.AllowedShareLevels.ToArray());
    }
}
