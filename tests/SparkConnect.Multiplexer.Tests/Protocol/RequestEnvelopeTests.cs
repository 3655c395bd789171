using System.Buffers;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using SparkConnect.Multiplexer.Protocol;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Protocol;

[TestClass]
public sealed class RequestEnvelopeTests
{
    [TestMethod]
    public void Parse_ReadsSessionAndClaimedUser()
    {
        var bytes = new ExecutePlanRequest { SessionId = "s-1", UserContext = new UserContext { UserId = "mallory", UserName = "M" }, OperationId = "op" }.ToByteArray();

        var envelope = RequestEnvelope.Parse(new ReadOnlySequence<byte>(bytes), readCloneNewSessionId: false);

        Assert.AreEqual("s-1", envelope.SessionId);
        Assert.AreEqual("mallory", envelope.ClaimedUserId);
        Assert.AreEqual(1, envelope.UserContextFields.Count);
    }

    [TestMethod]
    public void Parse_CloneReadsNewSessionId_OthersDoNot()
    {
        var bytes = new CloneSessionRequest { SessionId = "s-1", NewSessionId = "s-2" }.ToByteArray();

        Assert.AreEqual("s-2", RequestEnvelope.Parse(new ReadOnlySequence<byte>(bytes), readCloneNewSessionId: true).NewSessionId);
        Assert.IsNull(RequestEnvelope.Parse(new ReadOnlySequence<byte>(bytes), readCloneNewSessionId: false).NewSessionId);
    }

    [TestMethod]
    public void Parse_TruncatedField_IsInvalidArgument()
    {
        var bytes = new ConfigRequest { SessionId = "s-1", ClientType = "pyspark" }.ToByteArray()[..^2];

        var error = Assert.ThrowsExactly<GatewayException>(() => RequestEnvelope.Parse(new ReadOnlySequence<byte>(bytes), false));

        Assert.AreEqual(StatusCode.InvalidArgument, error.StatusCode);
    }

    [TestMethod]
    public void Parse_GroupsAndFixedFieldsAreSkipped()
    {
        var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        output.WriteTag(9, WireFormat.WireType.StartGroup);
        output.WriteTag(1, WireFormat.WireType.Fixed64);
        output.WriteFixed64(7);
        output.WriteTag(9, WireFormat.WireType.EndGroup);
        output.WriteTag(10, WireFormat.WireType.Fixed32);
        output.WriteFixed32(3);
        output.WriteTag(1, WireFormat.WireType.LengthDelimited);
        output.WriteString("s-9");
        output.Flush();

        Assert.AreEqual("s-9", RequestEnvelope.Parse(new ReadOnlySequence<byte>(stream.ToArray()), false).SessionId);
    }

    [TestMethod]
    public void Rewrite_MergesRepeatedUserContextsAndKeepsEverythingElse()
    {
        var extension = Any.Pack(new StringValue { Value = "ext" });
        var first = new ConfigRequest { SessionId = "s-1", UserContext = new UserContext { UserId = "a" } }.ToByteArray();
        var second = new ConfigRequest { UserContext = new UserContext { UserName = "b", Extensions = { extension } }, ClientType = "scala" }.ToByteArray();
        var message = first.Concat(second).ToArray();
        var sequence = new ReadOnlySequence<byte>(message);

        using var rewritten = RewrittenRequest.Create(sequence, RequestEnvelope.Parse(sequence, false), "alice");
        var frame = rewritten.ToArray();

        Assert.AreEqual(0, frame[0], "forwarded uncompressed");
        Assert.AreEqual(frame.Length - 5, (frame[1] << 24) | (frame[2] << 16) | (frame[3] << 8) | frame[4]);
        var payload = frame[5..];
        var parsed = ConfigRequest.Parser.ParseFrom(payload);
        Assert.AreEqual("alice", parsed.UserContext.UserId);
        Assert.AreEqual("alice", parsed.UserContext.UserName);
        Assert.AreEqual("ext", parsed.UserContext.Extensions.Single().Unpack<StringValue>().Value);
        Assert.AreEqual("scala", parsed.ClientType);
        CollectionAssert.AreEqual(WireFields.Without(message, 2), WireFields.Without(payload, 2));
    }

    [TestMethod]
    public void Rewrite_AddsUserContextWhenAbsent_AndAppendsCloneId()
    {
        var message = new CloneSessionRequest { SessionId = "s-1" }.ToByteArray();
        var sequence = new ReadOnlySequence<byte>(message);

        using var rewritten = RewrittenRequest.Create(sequence, RequestEnvelope.Parse(sequence, true), "bob", "s-2");
        var parsed = CloneSessionRequest.Parser.ParseFrom(rewritten.ToArray()[5..]);

        Assert.AreEqual("bob", parsed.UserContext.UserId);
        Assert.AreEqual("s-2", parsed.NewSessionId);
        Assert.AreEqual("s-1", parsed.SessionId);
    }

    [TestMethod]
    public void Rewrite_MultiSegmentInput_MatchesSingleSegment()
    {
        var message = new ExecutePlanRequest
        {
            SessionId = Guid.NewGuid().ToString(),
            UserContext = new UserContext { UserId = "x" },
            Plan = new Plan { Root = new Relation { Sql = new SQL { Query = new string('q', 5000) } } },
        }.ToByteArray();
        var whole = new ReadOnlySequence<byte>(message);
        var split = Segments.Split(message, 7);

        using var a = RewrittenRequest.Create(whole, RequestEnvelope.Parse(whole, false), "alice");
        using var b = RewrittenRequest.Create(split, RequestEnvelope.Parse(split, false), "alice");

        CollectionAssert.AreEqual(a.ToArray(), b.ToArray());
    }
}
