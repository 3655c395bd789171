using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Processes.Launching;

namespace SparkConnect.Multiplexer.Processes.Tests.Options;

[TestClass]
public sealed class ProcessEngineOptionsValidatorTests
{
    [TestMethod]
    public void Validate_GoodOptions_Succeeds()
    {
        var options = new ProcessEngineOptions { Command = "/opt/spark/sbin/start-connect-server.sh", Impersonation = true };
        options.Confs["spark.connect.grpc.binding.port"] = "{port}";
        options.AllowedClientConfs.Add("spark.executor.memory");

        var result = new ProcessEngineOptionsValidator().Validate(null, options);

        Assert.IsTrue(result.Succeeded, result.FailureMessage);
    }

    [TestMethod]
    [DataRow("too-short-secret")]
    [DataRow("a secret with spaces that is long enough to pass")]
    public void Validate_WeakEngineTokenSecret_FailsNamingTheKey(string secret)
    {
        var options = new ProcessEngineOptions { Command = "spark-submit", EngineTokenSecret = secret };
        options.Arguments.Add("{port}");

        var result = new ProcessEngineOptionsValidator().Validate(null, options);

        Assert.IsTrue(result.Failed);
        StringAssert.Contains(result.FailureMessage, "SparkConnectGateway:ProcessEngines:EngineTokenSecret must be at least 32 characters");
    }

    [TestMethod]
    public void Validate_EverythingWrong_ReportsEveryErrorWithItsKeyAndFix()
    {
        var options = new ProcessEngineOptions
        {
            Command = " ",
            Impersonation = true,
            ProxyUserArguments = ["--proxy-user", "nobody"],
            ConfArgumentName = "",
            Host = "0.0.0.0",
            WorkingDirectory = "",
            InitializationTimeout = TimeSpan.Zero,
            ReadinessProbeInterval = TimeSpan.FromSeconds(-1),
            MaxConcurrentLaunches = 0,
            MaxEngines = -1,
            MaxEnginesPerUser = -2,
            RedactedKeyPatterns = ["*secret*", "*", "pass word"],
            EngineIdleTimeout = TimeSpan.Zero,
            MaxEngineLifetime = TimeSpan.Zero,
            StopGracePeriod = TimeSpan.FromSeconds(-1),
            IdleCheckInterval = TimeSpan.Zero,
        };
        options.Confs["bad key"] = "x";
        options.AllowedClientConfs.Add("spark.connect.grpc.binding.port");
        options.AllowedClientConfs.Add("spark executor");
        options.Environment["A=B"] = "x";

        var result = new ProcessEngineOptionsValidator().Validate(null, options);

        Assert.IsTrue(result.Failed);
        var failures = result.Failures!.ToList();
        string[] expected =
        [
            "SparkConnectGateway:ProcessEngines:Command is empty; set the program",
            "never passes the engine its port: add the {port} placeholder",
            "SparkConnectGateway:ProcessEngines:Impersonation is on but SparkConnectGateway:ProcessEngines:ProxyUserArguments does not contain {user}",
            "SparkConnectGateway:ProcessEngines:ConfArgumentName is empty",
            "SparkConnectGateway:ProcessEngines:Confs has the key 'bad key'",
            "SparkConnectGateway:ProcessEngines:AllowedClientConfs:0 is 'spark.connect.grpc.binding.port', which only the gateway may set",
            "SparkConnectGateway:ProcessEngines:AllowedClientConfs:1 is 'spark executor'",
            "SparkConnectGateway:ProcessEngines:Environment has the variable 'A=B'",
            "SparkConnectGateway:ProcessEngines:InitializationTimeout is 00:00:00; set a positive duration",
            "SparkConnectGateway:ProcessEngines:ReadinessProbeInterval is -00:00:01",
            "SparkConnectGateway:ProcessEngines:EngineIdleTimeout is 00:00:00",
            "SparkConnectGateway:ProcessEngines:IdleCheckInterval is 00:00:00",
            "SparkConnectGateway:ProcessEngines:StopGracePeriod is -00:00:01",
            "SparkConnectGateway:ProcessEngines:MaxEngineLifetime is 00:00:00",
            "SparkConnectGateway:ProcessEngines:MaxConcurrentLaunches is 0; set at least 1",
            "SparkConnectGateway:ProcessEngines:MaxEngines is -1",
            "SparkConnectGateway:ProcessEngines:MaxEnginesPerUser is -2; set a positive number",
            "SparkConnectGateway:ProcessEngines:RedactedKeyPatterns:1 is '*'",
            "SparkConnectGateway:ProcessEngines:RedactedKeyPatterns:2 is 'pass word'",
            "SparkConnectGateway:ProcessEngines:Host is '0.0.0.0', which the gateway cannot connect to",
            "SparkConnectGateway:ProcessEngines:WorkingDirectory is empty",
        ];
        foreach (var message in expected)
        {
            Assert.IsTrue(failures.Any(f => f.Contains(message, StringComparison.Ordinal)), $"missing '{message}' in:{Environment.NewLine}{string.Join(Environment.NewLine, failures)}");
        }

        Assert.HasCount(expected.Length, failures);
    }

    [TestMethod]
    public void Validate_ProbeIntervalNotShorterThanTimeout_Fails()
    {
        var options = new ProcessEngineOptions { Command = "x", InitializationTimeout = TimeSpan.FromSeconds(5), ReadinessProbeInterval = TimeSpan.FromSeconds(5) };
        options.Arguments.Add("{port}");

        var result = new ProcessEngineOptionsValidator().Validate(null, options);

        Assert.IsTrue(result.Failed);
        StringAssert.Contains(result.FailureMessage, "ReadinessProbeInterval (00:00:05) is not shorter than SparkConnectGateway:ProcessEngines:InitializationTimeout");
    }

    [TestMethod]
    public async Task AddProcessEngines_BadConfiguration_StopsStartUp()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration["SparkConnectGateway:Authentication:Mode"] = "None";
        builder.Configuration["SparkConnectGateway:ProcessEngines:Command"] = "/opt/spark/sbin/start-connect-server.sh";
        builder.Configuration["SparkConnectGateway:ProcessEngines:MaxEngines"] = "-3";
        builder.Services.AddSparkConnectGateway().AddProcessEngines();
        await using var app = builder.Build();

        var error = await Assert.ThrowsExactlyAsync<OptionsValidationException>(() => app.StartAsync());

        StringAssert.Contains(error.Message, "SparkConnectGateway:ProcessEngines:MaxEngines is -3");
        StringAssert.Contains(error.Message, "never passes the engine its port");
    }

    [TestMethod]
    public void AddProcessEngines_RedactedKeyPatternsFromConfiguration_ReplaceTheDefaults()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration["SparkConnectGateway:ProcessEngines:Command"] = "spark-submit";
        builder.Configuration["SparkConnectGateway:ProcessEngines:Arguments:0"] = "--port={port}";
        builder.Configuration["SparkConnectGateway:ProcessEngines:RedactedKeyPatterns:0"] = "*secret*";
        builder.Configuration["SparkConnectGateway:ProcessEngines:RedactedKeyPatterns:1"] = "*.pin";
        builder.Configuration["SparkConnectGateway:ProcessEngines:MaxEnginesPerUser"] = "2";
        builder.Services.AddSparkConnectGateway().AddProcessEngines();
        using var app = builder.Build();

        var options = app.Services.GetRequiredService<IOptions<ProcessEngineOptions>>().Value;

        CollectionAssert.AreEqual(new[] { "*secret*", "*.pin" }, options.RedactedKeyPatterns!.ToArray());
        Assert.AreEqual(2, options.MaxEnginesPerUser);
        Assert.AreEqual("a.secret=*** card.pin=*** access.key=AK", ProcessEngineManager.RedactFailure("a.secret=s card.pin=1 access.key=AK", options, null));
    }

    [TestMethod]
    public void AddProcessEngines_BindsConfigurationThenDelegate()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration["SparkConnectGateway:ProcessEngines:Command"] = "spark-submit";
        builder.Configuration["SparkConnectGateway:ProcessEngines:Arguments:0"] = "--port={port}";
        builder.Configuration["SparkConnectGateway:ProcessEngines:Confs:spark.executor.memory"] = "2g";
        builder.Configuration["SparkConnectGateway:ProcessEngines:MaxEngines"] = "7";
        builder.Configuration["SparkConnectGateway:ProcessEngines:Impersonation"] = "true";
        builder.Services.AddSparkConnectGateway().AddProcessEngines(o => o.MaxEngines = 8);
        using var app = builder.Build();

        var options = app.Services.GetRequiredService<IOptions<ProcessEngineOptions>>().Value;

        Assert.AreEqual("spark-submit", options.Command);
        CollectionAssert.AreEqual(new[] { "--port={port}" }, options.Arguments.ToArray());
        Assert.AreEqual("2g", options.Confs["spark.executor.memory"]);
        Assert.AreEqual(8, options.MaxEngines);
        Assert.IsNull(options.ProxyUserArguments, "the default (--proxy-user {user}) applies");
        Assert.AreEqual(5, options.MaxEnginesPerUser);
        Assert.IsNull(options.RedactedKeyPatterns, "the defaults apply");
        Assert.IsInstanceOfType<ProcessEngineLocator>(app.Services.GetRequiredService<IEngineLocator>());
    }
}
