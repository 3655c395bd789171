using System.Net;
using SparkConnect.Multiplexer.Processes.Launching;

namespace SparkConnect.Multiplexer.Processes.Tests.Launching;

[TestClass]
public sealed class EngineCommandLineTests
{
    private static readonly EngineKey AliceKey = new() { ShareLevel = ShareLevel.User, Owner = "alice", Subdomain = "etl" };

    [TestMethod]
    public void Build_SparkSubmitWithImpersonationConfsAndHints_ExpectedCommandLine()
    {
        var options = new ProcessEngineOptions { Command = "/opt/spark/bin/spark-submit", Impersonation = true };
        options.Arguments.Add("--class");
        options.Arguments.Add("org.apache.spark.sql.connect.service.SparkConnectServer");
        options.Arguments.Add("--name");
        options.Arguments.Add("Spark Connect {shareLevel} {owner} {subdomain}");
        options.Confs["spark.connect.grpc.binding.port"] = "{port}";
        options.Confs["spark.connect.grpc.binding.address"] = "{host}";
        options.Confs["spark.local.dir"] = "{workDir}/tmp";
        options.Confs["spark.app.id"] = "{engineId}";
        options.AllowedClientConfs.Add("spark.executor.memory");
        options.AllowedClientConfs.Add("spark.driver.maxResultSize");
        options.Environment["SPARK_NO_DAEMONIZE"] = "1";
        options.Environment["SPARK_LOG_DIR"] = "{workDir}/logs";
        var hints = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["spark.executor.memory"] = "4g",
            ["spark.driver.maxresultsize"] = "1g",
            ["spark.master"] = "local[*]",
            ["share_level"] = "USER",
        };
        var context = new EngineLaunchContext("process:USER/alice/etl:0123abcd", AliceKey, "alice", "127.0.0.1", 41234, "/tmp/engines/e1", hints);

        var commandLine = EngineCommandLine.Build(options, context);

        Assert.AreEqual("/opt/spark/bin/spark-submit", commandLine.FileName);
        CollectionAssert.AreEqual(
            new[]
            {
                "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
                "--name", "Spark Connect USER alice etl",
                "--proxy-user", "alice",
                "--conf", "spark.connect.grpc.binding.port=41234",
                "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
                "--conf", "spark.local.dir=/tmp/engines/e1/tmp",
                "--conf", "spark.app.id=process:USER/alice/etl:0123abcd",
                "--conf", "spark.executor.memory=4g",
                "--conf", "spark.driver.maxResultSize=1g",
            },
            commandLine.Arguments.ToArray());
        Assert.AreEqual("1", commandLine.Environment["SPARK_NO_DAEMONIZE"]);
        Assert.AreEqual("/tmp/engines/e1/logs", commandLine.Environment["SPARK_LOG_DIR"]);
    }

    [TestMethod]
    public void Build_ImpersonationOff_NoProxyUser()
    {
        var options = new ProcessEngineOptions { Command = "start-connect-server.sh" };
        options.Confs["spark.connect.grpc.binding.port"] = "{port}";

        var commandLine = EngineCommandLine.Build(options, Context(AliceKey, "alice"));

        CollectionAssert.AreEqual(new[] { "--conf", "spark.connect.grpc.binding.port=15003" }, commandLine.Arguments.ToArray());
    }

    [TestMethod]
    public void Build_CustomProxyUserArgumentsAndConfArgument_Used()
    {
        var options = new ProcessEngineOptions { Command = "launcher", Impersonation = true, ConfArgumentName = "-c", ProxyUserArguments = ["--run-as={user}"] };
        options.Confs["port"] = "{port}";

        var commandLine = EngineCommandLine.Build(options, Context(new EngineKey { ShareLevel = ShareLevel.Group, Owner = "eng", Subdomain = "default" }, "eng"));

        CollectionAssert.AreEqual(new[] { "--run-as=eng", "-c", "port=15003" }, commandLine.Arguments.ToArray());
    }

    [TestMethod]
    public void Build_ServerEngine_NotImpersonated()
    {
        var options = new ProcessEngineOptions { Command = "launcher", Impersonation = true };
        options.Arguments.Add("{port}");

        var commandLine = EngineCommandLine.Build(options, Context(new EngineKey { ShareLevel = ShareLevel.Server, Owner = "server", Subdomain = "default" }, "gateway"));

        CollectionAssert.AreEqual(new[] { "15003" }, commandLine.Arguments.ToArray());
    }

    [TestMethod]
    public void Build_ClientHintValues_AreNeverTemplated()
    {
        var options = new ProcessEngineOptions { Command = "launcher" };
        options.Arguments.Add("{port}");
        options.AllowedClientConfs.Add("spark.app.name");
        var hints = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["spark.app.name"] = "{workDir} {user}" };

        var commandLine = EngineCommandLine.Build(options, Context(AliceKey, "alice", hints));

        Assert.AreEqual("spark.app.name={workDir} {user}", commandLine.Arguments[^1]);
    }

    [TestMethod]
    public void ToDisplayString_SecretConfs_Redacted()
    {
        var options = new ProcessEngineOptions { Command = "/opt/spark/bin/spark-submit" };
        options.Arguments.Add("--name");
        options.Arguments.Add("my engine");
        options.Confs["spark.connect.authenticate.token"] = "s3cr3t-token";
        options.Confs["spark.ssl.keyPassword"] = "hunter2";
        options.Confs["spark.authenticate.secret"] = "shh";
        options.Confs["spark.hadoop.fs.s3a.access.key"] = "AKIAEXAMPLE";
        options.Confs["spark.driver.extraJavaOptions"] = "-Djavax.net.ssl.keyStorePassword=kspass -Xss4m";
        options.Confs["spark.connect.grpc.binding.port"] = "{port}";

        var display = EngineCommandLine.Build(options, Context(AliceKey, "alice")).ToDisplayString();

        Assert.AreEqual(
            "/opt/spark/bin/spark-submit --name 'my engine' --conf spark.connect.authenticate.token=*** --conf spark.ssl.keyPassword=*** --conf spark.authenticate.secret=*** --conf spark.hadoop.fs.s3a.access.key=*** --conf 'spark.driver.extraJavaOptions=-Djavax.net.ssl.keyStorePassword=*** -Xss4m' --conf spark.connect.grpc.binding.port=15003",
            display);
    }

    [TestMethod]
    public void ToDisplayString_EngineToken_MaskedWherever()
    {
        var options = new ProcessEngineOptions { Command = "/bin/sh" };
        options.Arguments.Add("-c");
        options.Arguments.Add("exec engine --auth {engineToken}");
        var context = new EngineLaunchContext("e", AliceKey, "alice", "127.0.0.1", 15003, "/tmp/e", new Dictionary<string, string>(), "5ecret5ecret");

        var display = EngineCommandLine.Build(options, context).ToDisplayString(SecretRedactor.Default, "5ecret5ecret");

        Assert.AreEqual("/bin/sh -c 'exec engine --auth ***'", display);
    }

    [TestMethod]
    public void UserOf_FollowsShareLevel()
    {
        var alice = new GatewayPrincipal("alice", ["eng"]);
        Assert.AreEqual("alice", ProcessEngineManager.UserOf(Request(alice, new EngineKey { ShareLevel = ShareLevel.User, Owner = "alice", Subdomain = "default" })));
        Assert.AreEqual("alice", ProcessEngineManager.UserOf(Request(alice, new EngineKey { ShareLevel = ShareLevel.Connection, Owner = "a-session", Subdomain = "default" })));
        Assert.AreEqual("eng", ProcessEngineManager.UserOf(Request(alice, new EngineKey { ShareLevel = ShareLevel.Group, Owner = "eng", Subdomain = "default" })));
        Assert.AreEqual(Environment.UserName, ProcessEngineManager.UserOf(Request(alice, new EngineKey { ShareLevel = ShareLevel.Server, Owner = "server", Subdomain = "default" })));
    }

    [TestMethod]
    public void DirectoryNameOf_EngineId_IsOneSafePathSegment()
        => Assert.AreEqual("process_USER_alice_default_0123abcd", ProcessEngineManager.DirectoryNameOf("process:USER/alice/default:0123abcd"));

    private static EngineRequest Request(GatewayPrincipal principal, EngineKey key)
        => new(principal, key, Guid.NewGuid().ToString(), new Dictionary<string, string>(), IPAddress.Loopback);

    private static EngineLaunchContext Context(EngineKey key, string user, IReadOnlyDictionary<string, string>? hints = null)
        => new("process:" + key + ":00000000", key, user, "127.0.0.1", 15003, "/tmp/engines/e", hints ?? new Dictionary<string, string>());

    [TestMethod]
    public void Build_EngineTokenPlaceholder_PassesThePerEngineSecretAndIsDetected()
    {
        var options = new ProcessEngineOptions { Command = "spark-submit" };
        options.Arguments.Add("--conf");
        options.Arguments.Add("spark.connect.grpc.binding.port={port}");
        options.Environment["SPARK_CONNECT_AUTHENTICATE_TOKEN"] = "{engineToken}";
        var context = new EngineLaunchContext("process:USER/alice/default:0123abcd", new EngineKey { ShareLevel = ShareLevel.User, Owner = "alice", Subdomain = "default" }, "alice", "127.0.0.1", 41234, "/tmp/engines/e1", new Dictionary<string, string>(), "5ecret5ecret");

        var commandLine = EngineCommandLine.Build(options, context);

        Assert.AreEqual("5ecret5ecret", commandLine.Environment["SPARK_CONNECT_AUTHENTICATE_TOKEN"]);
        Assert.IsTrue(EngineCommandLine.UsesEngineToken(options));
        Assert.IsFalse(EngineCommandLine.UsesEngineToken(new ProcessEngineOptions { Command = "spark-submit" }));
    }
}
