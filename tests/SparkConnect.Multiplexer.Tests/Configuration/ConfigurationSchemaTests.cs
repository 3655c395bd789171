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

        // One OptionsValidationException per options type with problems; several come as an AggregateException.
        var error = await Assert.ThrowsAsync<Exception>(() => app.StartAsync(TestContext.CancellationToken));
        var failures = error is AggregateException all
            ? all.InnerExceptions.Select(e => (OptionsValidationException)e).SelectMany(e => e.Failures)
            : ((OptionsValidationException)error).Failures;
        return string.Join("\n", failures);
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

    [TestMethod]
    public async Task Start_WithMisspeltKeys_NamesEachAndTheClosestKnownKey()
    {
        var messages = await StartFailureAsync(new()
        {
            ["SparkConnectGateway:Authentification:Mode"] = "Tokens",
            ["SparkConnectGateway:Sesions:IdleTimeout"] = "00:10:00",
            ["SparkConnectGateway:Authorization:Rules:0:ShareLevel:0"] = "User",
            ["SparkConnectGateway:MaxMessageSize:Bytes"] = "10",
        });

        StringAssert.Contains(messages, "SparkConnectGateway:Authentification is not a known setting, so it would be ignored; did you mean SparkConnectGateway:Authentication?");
        StringAssert.Contains(messages, "SparkConnectGateway:Sesions is not a known setting, so it would be ignored; did you mean SparkConnectGateway:Sessions?");
        StringAssert.Contains(messages, "SparkConnectGateway:Authorization:Rules:0:ShareLevel is not a known setting, so it would be ignored; did you mean SparkConnectGateway:Authorization:Rules:0:ShareLevels?");
        StringAssert.Contains(messages, "SparkConnectGateway:MaxMessageSize:Bytes is not a known setting, so it would be ignored; SparkConnectGateway:MaxMessageSize takes a single value, not keys.");
        Assert.AreEqual(4, messages.Split('\n').Length, messages);
    }

    [TestMethod]
    public async Task Start_WithKeyFarFromAnyKnownKey_ListsTheKnownKeys()
    {
        var messages = await StartFailureAsync(new() { ["SparkConnectGateway:Health:Xyzzy"] = "1" });

        StringAssert.Contains(messages, "SparkConnectGateway:Health:Xyzzy is not a known setting, so it would be ignored; the keys of SparkConnectGateway:Health are FailuresBeforeLost, ProbeInterval, ProbeTimeout.");
    }

    [TestMethod]
    public async Task Start_WithDictionaryKeysAndMisspeltPackageKey_ReportsOnlyTheMisspeltKey()
    {
        var messages = await StartFailureAsync(
            new()
            {
                ["SparkConnectGateway:ProcessEngines:Comand"] = "/opt/spark/sbin/start-connect-server.sh",
                ["SparkConnectGateway:ProcessEngines:Confs:spark.executor.memory"] = "2g",
                ["SparkConnectGateway:ProcessEngines:Environment:SPARK_HOME"] = "/opt/spark",
            },
            gateway => gateway.AddProcessEngines());

        StringAssert.Contains(messages, "SparkConnectGateway:ProcessEngines:Comand is not a known setting, so it would be ignored; did you mean SparkConnectGateway:ProcessEngines:Command?");
        Assert.DoesNotContain("Confs", messages);
        Assert.DoesNotContain("SPARK_HOME", messages);
    }

    [TestMethod]
    public async Task Start_WithSectionOfPackageNotInUse_SaysWhichCallUsesIt()
    {
        var messages = await StartFailureAsync(new() { ["SparkConnectGateway:LocalEngine:MaxBatchBytes"] = "1000" });

        StringAssert.Contains(messages, "SparkConnectGateway:LocalEngine is set, but nothing uses it: call AddLocalEngines()");
    }

    [TestMethod]
    public async Task Start_WithPackageInUse_ReportsItsMisspeltKeyOnce()
    {
        var messages = await StartFailureAsync(
            new() { ["SparkConnectGateway:ProcessEngines:MaxEngine"] = "3" },
            gateway => gateway.AddProcessEngines());

        var expected = "SparkConnectGateway:ProcessEngines:MaxEngine is not a known setting, so it would be ignored; did you mean SparkConnectGateway:ProcessEngines:MaxEngines?";
        Assert.AreEqual(1, messages.Split('\n').Count(m => m == expected), messages);
    }

    [TestMethod]
    public async Task Start_WithThirdPartySectionDeclared_ChecksItInsteadOfCallingItUnknown()
    {
        var messages = await StartFailureAsync(
            new()
            {
                ["SparkConnectGateway:Audit:Enabled"] = "true",
                ["SparkConnectGateway:Audit:Retention"] = "30 days",
            },
            gateway =>
            {
                gateway.AddConfigurationSection<AuditOptions>("SparkConnectGateway:Audit");
                gateway.Services.AddOptions<AuditOptions>().BindConfiguration("SparkConnectGateway:Audit").ValidateOnStart();
            });

        Assert.AreEqual("SparkConnectGateway:Audit:Retention is '30 days', which is not a duration; use the format [d.]hh:mm:ss, for example 00:10:00 for ten minutes or 1.00:00:00 for a day.", messages);
    }

    private sealed class AuditOptions
    {
        public bool Enabled { get; set; }

        public TimeSpan Retention { get; set; }
    }
}
