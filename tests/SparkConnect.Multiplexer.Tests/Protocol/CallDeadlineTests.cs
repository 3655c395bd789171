using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Tests.Protocol;

[TestClass]
public sealed class CallDeadlineTests
{
    [TestMethod]
    [DataRow("100m", 100.0)]
    [DataRow("5S", 5000.0)]
    [DataRow("2M", 120000.0)]
    [DataRow("1H", 3600000.0)]
    [DataRow("2500u", 2.5)]
    [DataRow("3000000n", 3.0)]
    public void TryParseTimeout_ValidUnits_Parse(string header, double milliseconds)
    {
        Assert.IsTrue(CallDeadline.TryParseTimeout(header, out var timeout));
        Assert.AreEqual(milliseconds, timeout.TotalMilliseconds, 0.001);
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("5")]
    [DataRow("123456789S")]
    [DataRow("5s")]
    [DataRow("-5S")]
    public void TryParseTimeout_Invalid_IsRejected(string header)
        => Assert.IsFalse(CallDeadline.TryParseTimeout(header, out _));
}
