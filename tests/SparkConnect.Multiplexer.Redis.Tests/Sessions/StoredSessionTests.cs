using System.Text.Json;
using SparkConnect.Multiplexer.Redis.Sessions;

namespace SparkConnect.Multiplexer.Redis.Tests.Sessions;

[TestClass]
public sealed class StoredSessionTests
{
    // A session exactly as gateways before SessionRecord's init properties wrote it: the stored shape is StoredSession's,
    // not the public record's, so replicas of either version read each other's sessions.
    private const string FormatOne = """
        {"Version":1,"SessionId":"9b0c3c0e-5f0c-4d8e-9a43-1b2a3c4d5e6f","Owner":"alice","ShareLevel":"User","KeyOwner":"alice","Subdomain":"etl","EngineId":"engine-1","EngineAddress":"http://127.0.0.1:15003","CreatedAt":"2026-11-24T08:00:00+00:00","LastActivity":"2026-11-24T08:05:00+00:00","ClientAddress":"192.0.2.7"}
        """;

    [TestMethod]
    public void ToRecord_FormatOneWrittenBefore_ReadsTheSameSession()
    {
        var stored = JsonSerializer.Deserialize(FormatOne, StoredSessionJson.Default.StoredSession)!;

        var expected = new SessionRecord
        {
            SessionId = "9b0c3c0e-5f0c-4d8e-9a43-1b2a3c4d5e6f",
            Owner = "alice",
            EngineKey = new EngineKey { ShareLevel = ShareLevel.User, Owner = "alice", Subdomain = "etl" },
            EngineId = "engine-1",
            EngineAddress = new Uri("http://127.0.0.1:15003"),
            CreatedAt = new DateTimeOffset(2026, 11, 24, 8, 0, 0, TimeSpan.Zero),
            LastActivity = new DateTimeOffset(2026, 11, 24, 8, 5, 0, TimeSpan.Zero),
            ClientAddress = "192.0.2.7",
        };
        Assert.AreEqual(expected, stored.ToRecord());
    }

    [TestMethod]
    public void From_Record_WritesFormatOne()
    {
        var stored = JsonSerializer.Deserialize(FormatOne, StoredSessionJson.Default.StoredSession)!;

        var written = JsonSerializer.Serialize(StoredSession.From(stored.ToRecord()), StoredSessionJson.Default.StoredSession);

        Assert.AreEqual(FormatOne.Trim(), written, "the same bytes as before, field for field");
    }
}
