using SparkConnect.Multiplexer.ZooKeeper.Client;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests;

[TestClass]
public sealed class ZooKeeperOptionsValidatorTests
{
    [TestMethod]
    public void Validate_Defaults_NeedOnlyAConnectionString()
    {
        var result = new ZooKeeperOptionsValidator().Validate(null, new ZooKeeperOptions { ConnectionString = "zk1:2181,zk2:2181/kyuubi" });

        Assert.IsTrue(result.Succeeded, result.FailureMessage);
    }

    [TestMethod]
    public void Validate_ManyProblems_ListsEveryOneWithItsFix()
    {
        var options = new ZooKeeperOptions
        {
            ConnectionString = "zk1",
            SessionTimeout = TimeSpan.FromMilliseconds(10),
            Namespace = "a/b",
            EngineScheme = "grpc",
            GatewayNamespace = "relative",
            AdvertisedAddress = "no-port",
            LaunchTimeout = TimeSpan.Zero,
        };

        var result = new ZooKeeperOptionsValidator().Validate(null, options);

        Assert.IsTrue(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.HasCount(7, failures, string.Join(Environment.NewLine, failures));
        Assert.IsTrue(failures.All(f => f.Contains("SparkConnectGateway:ZooKeeper:", StringComparison.Ordinal)));
        Assert.IsTrue(failures.Any(f => f.Contains("e.g. zk1:2181,zk2:2181", StringComparison.Ordinal)));
    }

    [TestMethod]
    public void Validate_EmptyConnectionString_SaysWhatToSet()
    {
        var result = new ZooKeeperOptionsValidator().Validate(null, new ZooKeeperOptions());

        Assert.IsTrue(result.Failed);
        Assert.Contains("ConnectionString is empty", result.FailureMessage);
    }

    [TestMethod]
    public void Load_LibraryMissing_MessageNamesThePackages()
    {
        var error = Assert.ThrowsExactly<ZooKeeperNativeLibraryException>(() => ZooKeeperNative.Load(["/nonexistent/libzookeeper_mt.so.2"]));

        Assert.Contains("libzookeeper-mt2", error.Message);
        Assert.Contains("zookeeper-native", error.Message);
        Assert.Contains("brew install zookeeper", error.Message);
    }

    [TestMethod]
    public void EnsureLoaded_Installed_Loads()
    {
        // CI installs libzookeeper-mt2: a missing library fails here rather than skipping the suite.
        ZooKeeperNative.EnsureLoaded(null);

        Assert.AreNotEqual(0, ZooKeeperNative.EphemeralSequential);
    }
}
