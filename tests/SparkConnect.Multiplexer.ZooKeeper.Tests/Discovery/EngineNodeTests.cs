using System.Text;
using SparkConnect.Multiplexer.ZooKeeper.Discovery;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Discovery;

[TestClass]
public sealed class EngineNodeTests
{
    private const string Space = "/kyuubi_1.10.0_USER_SPARK_SQL/alice/default";

    [TestMethod]
    public void Parse_KyuubiNameWithSparkConnectPort_AddressOnServerUriHost()
    {
        var node = EngineNode.Parse(Space, "serverUri=10.0.0.5:10009;version=1.10.0;refId=abc;sparkConnectPort=15002;sequence=0000000007", null);

        Assert.AreEqual("10.0.0.5:15002", node.SparkConnectAddress);
        Assert.AreEqual(7, node.SequenceNumber);
        Assert.AreEqual("kyuubi:abc", node.Id, "the engine's refId: the same when it registers again");
    }

    [TestMethod]
    public void Parse_NoEngineIdNorRefId_IdIsTheAddressInTheSpaceWhateverTheSequence()
    {
        var first = EngineNode.Parse(Space, "serverUri=h:1;version=1.10.0;sparkConnectPort=15002;sequence=0000000001", null);
        var again = EngineNode.Parse(Space, "serverUri=h:1;version=1.10.0;sparkConnectPort=15002;sequence=0000000009", null);

        Assert.AreEqual("zookeeper:" + Space + "/h:15002", first.Id);
        Assert.AreEqual(first.Id, again.Id);
    }

    [TestMethod]
    public void Parse_EngineIdInDataNameHasPort_EngineIdUsed()
    {
        var node = EngineNode.Parse(Space, "serverUri=h:1;refId=r;sparkConnectPort=15002;sequence=0000000001", Encoding.UTF8.GetBytes("engineId=my-engine"));

        Assert.AreEqual("my-engine", node.Id);
        Assert.IsFalse(EngineNode.NameIsComplete("serverUri=h:1;refId=r;sparkConnectPort=15002;sequence=0000000001"), "the data is read");
    }

    [TestMethod]
    public void Parse_SparkConnectUri_WinsOverPort()
    {
        var node = EngineNode.Parse(Space, "serverUri=h:1;sparkConnectPort=2;sparkConnectUri=other:3;sequence=0000000001", null);

        Assert.AreEqual("other:3", node.SparkConnectAddress);
    }

    [TestMethod]
    public void Parse_AttributeOnlyInData_Used()
    {
        var node = EngineNode.Parse(Space, "serverUri=h:1;version=1.10.0;sequence=0000000001", Encoding.UTF8.GetBytes("serverUri=h:1;sparkConnectPort=15002"));

        Assert.AreEqual("h:15002", node.SparkConnectAddress);
    }

    [TestMethod]
    public void Parse_NoSparkConnectAttribute_NoAddress()
    {
        var node = EngineNode.Parse(Space, "serverUri=h:1;version=1.10.0;sequence=0000000001", Encoding.UTF8.GetBytes("h:1"));

        Assert.IsNull(node.SparkConnectAddress);
    }

    [TestMethod]
    public void FormatName_ThenParse_KeepsEngineIdAndPort()
    {
        var name = EngineNode.FormatName("127.0.0.1", 4242, "1.10.0", "process:USER/alice/default:0a1b") + "0000000003";

        var node = EngineNode.Parse(Space, name, null);

        Assert.AreEqual("process:USER/alice/default:0a1b", node.Id);
        Assert.AreEqual("127.0.0.1:4242", node.SparkConnectAddress);
        Assert.DoesNotContain("/", name);
    }

    [TestMethod]
    public void SpacePath_UserKey_KyuubiLayout()
    {
        var options = new ZooKeeperOptions();
        var key = new EngineKey { ShareLevel = ShareLevel.User, Owner = "alice", Subdomain = "default" };

        Assert.AreEqual("/kyuubi_1.10.0_USER_SPARK_SQL/alice/default", ZooKeeperEngineLocator.SpacePath(options, key));
        Assert.AreEqual("/kyuubi_1.10.0_USER_SPARK_SQL_lock/alice/default", ZooKeeperEngineLocator.LockPath(options, key));
    }
}
