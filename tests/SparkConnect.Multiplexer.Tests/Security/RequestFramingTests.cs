using System.Text;
using Google.Protobuf;
using Grpc.Core;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Security;

/// <summary>
/// Findings 3 and 5: message limits hold exactly at every size, compressed data is whole or refused, and a unary
/// method carries one message — nothing that was not whole and well-formed ever reaches an engine.
/// </summary>
[TestClass]
public sealed class RequestFramingTests
{
    private const int Limit = 1_000_000;
    private const string Config = "/spark.connect.SparkConnectService/Config";

    private static RecordingEngine _engine = null!;
    private static GatewayHost _gateway = null!;

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context)
    {
        _engine = await RecordingEngine.StartAsync("engine-a", context.CancellationToken);
        _gateway = await GatewayHost.StartAsync(_engine, o => o.MaxMessageSize = Limit);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _gateway.DisposeAsync();
        await _engine.DisposeAsync();
    }

    [TestMethod]
    [DataRow(Limit - 1, null)]
    [DataRow(Limit, null)]
    [DataRow(Limit - 1, "gzip")]
    [DataRow(Limit, "gzip")]
    [DataRow(Limit, "deflate")]
    public async Task MessageUpToTheLimit_ReachesTheEngineWhole(int size, string? encoding)
    {
        var message = ConfigOfSize(size);

        var result = await SendAsync(message, encoding);

        Assert.AreEqual(StatusCode.OK, result.Status, result.Message);
        var received = _engine.Calls[^1].Requests[0];
        Assert.AreEqual(ConfigRequest.Parser.ParseFrom(message).ClientType, ConfigRequest.Parser.ParseFrom(received).ClientType, "the whole message, not a prefix");
    }

    [TestMethod]
    [DataRow(Limit + 1, null)]
    [DataRow(Limit + 1, "gzip")]
    [DataRow(1_500_065, "gzip")]
    [DataRow(Limit + 1, "deflate")]
    public async Task MessageOverTheLimit_IsResourceExhausted(int size, string? encoding)
    {
        var before = _engine.Calls.Count;

        var result = await SendAsync(ConfigOfSize(size), encoding);

        Assert.AreEqual(StatusCode.ResourceExhausted, result.Status, result.Message);
        StringAssert.Contains(result.Message, "MaxMessageSize");
        Assert.AreEqual(before, _engine.Calls.Count);
    }

    [TestMethod]
    [DataRow("gzip", 8, DisplayName = "gzip without its CRC and size trailer")]
    [DataRow("gzip", 4, DisplayName = "gzip without its size")]
    [DataRow("gzip", 100, DisplayName = "gzip cut inside the data")]
    [DataRow("deflate", 4, DisplayName = "zlib without its Adler-32")]
    [DataRow("deflate", 50, DisplayName = "zlib cut inside the data")]
    public async Task TruncatedCompressedMessage_IsInvalidArgument(string encoding, int cut)
    {
        var before = _engine.Calls.Count;
        var compressed = Compress(ConfigOfSize(20_000), encoding);

        var result = await RawHttp2.PostAsync(_gateway.Address, Config, RawHttp2.Frame(compressed[..^cut], compressed: true), GatewayHost.AliceToken, Cancel, ("grpc-encoding", encoding));

        Assert.AreEqual(StatusCode.InvalidArgument, result.Status, result.Message);
        StringAssert.Contains(result.Message, "corrupt");
        Assert.AreEqual(before, _engine.Calls.Count, "a cut message must not be forwarded");
    }

    [TestMethod]
    public async Task CompressedMessageWithAWrongChecksum_IsInvalidArgument()
    {
        var compressed = RawHttp2.Gzip(ConfigOfSize(20_000));
        compressed[^6] ^= 0xFF;

        var result = await RawHttp2.PostAsync(_gateway.Address, Config, RawHttp2.Frame(compressed, compressed: true), GatewayHost.AliceToken, Cancel, ("grpc-encoding", "gzip"));

        Assert.AreEqual(StatusCode.InvalidArgument, result.Status, result.Message);
    }

    [TestMethod]
    public async Task UnsupportedEncoding_IsUnimplementedNamingTheSupportedOnes()
    {
        var result = await RawHttp2.PostAsync(_gateway.Address, Config, RawHttp2.Frame(ConfigOfSize(100)), GatewayHost.AliceToken, Cancel, ("grpc-encoding", "snappy"));

        Assert.AreEqual(StatusCode.Unimplemented, result.Status, result.Message);
        StringAssert.Contains(result.Message, "identity, gzip, deflate");
    }

    [TestMethod]
    public async Task CompressedFlagWithoutAnEncoding_IsInvalidArgument()
    {
        var result = await RawHttp2.PostAsync(_gateway.Address, Config, RawHttp2.Frame(RawHttp2.Gzip(ConfigOfSize(100)), compressed: true), GatewayHost.AliceToken, Cancel);

        Assert.AreEqual(StatusCode.InvalidArgument, result.Status, result.Message);
    }

    [TestMethod]
    [DataRow("Config")]
    [DataRow("AnalyzePlan")]
    [DataRow("ExecutePlan")]
    [DataRow("ReleaseSession")]
    public async Task SecondMessageOnAUnaryRequest_IsInvalidArgument(string method)
    {
        var before = _engine.Calls.Count;
        var frame = RawHttp2.Frame(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }.ToByteArray());

        var result = await RawHttp2.PostAsync(_gateway.Address, "/spark.connect.SparkConnectService/" + method, [.. frame, .. frame], GatewayHost.AliceToken, Cancel);

        Assert.AreEqual(StatusCode.InvalidArgument, result.Status, result.Message);
        StringAssert.Contains(result.Message, "exactly one request message");
        Assert.AreEqual(before, _engine.Calls.Count);
    }

    [TestMethod]
    public async Task SecondMessageOfAClientStream_IsForwarded()
    {
        var session = GatewayHost.NewSessionId();
        var frame = RawHttp2.Frame(new AddArtifactsRequest { SessionId = session }.ToByteArray());

        var result = await RawHttp2.PostAsync(_gateway.Address, "/spark.connect.SparkConnectService/AddArtifacts", [.. frame, .. frame], GatewayHost.AliceToken, Cancel);

        Assert.AreEqual(StatusCode.OK, result.Status, result.Message);
        Assert.HasCount(2, _engine.Calls[^1].Requests);
    }

    [TestMethod]
    [DataRow(" ", "")]
    [DataRow("", " ")]
    [DataRow("\u00A0", "")]
    [DataRow("", "\n")]
    [DataRow("{", "}")]
    public async Task SessionIdNotInItsCanonicalForm_IsInvalidArgument(string before, string after)
    {
        var calls = _engine.Calls.Count;
        var request = new ConfigRequest { SessionId = before + GatewayHost.NewSessionId() + after };

        var result = await RawHttp2.PostAsync(_gateway.Address, Config, RawHttp2.Frame(request.ToByteArray()), GatewayHost.AliceToken, Cancel);

        Assert.AreEqual(StatusCode.InvalidArgument, result.Status, result.Message);
        StringAssert.Contains(result.Message, "36-character form");
        Assert.DoesNotContain('\n', result.Message, "client text is escaped");
        Assert.AreEqual(calls, _engine.Calls.Count);
    }

    [TestMethod]
    public async Task ClientTextInRefusals_IsEscapedInTheLog()
    {
        var request = new ConfigRequest { SessionId = "x\nFAKE LOG LINE\r\u2028" };

        await RawHttp2.PostAsync(_gateway.Address, Config, RawHttp2.Frame(request.ToByteArray()), GatewayHost.AliceToken, Cancel);

        var line = _gateway.Logs.Entries.Last(e => e.Message.Contains("is not a UUID", StringComparison.Ordinal)).Message;
        Assert.DoesNotContain('\n', line);
        Assert.DoesNotContain('\u2028', line);
        StringAssert.Contains(line, "x\\u000AFAKE LOG LINE");
    }

    /// <summary>A valid ConfigRequest of exactly <paramref name="size"/> bytes.</summary>
    internal static byte[] ConfigOfSize(int size)
    {
        var session = GatewayHost.NewSessionId();
        var overhead = new ConfigRequest { SessionId = session, ClientType = new string('x', size) }.CalculateSize() - size;
        for (var padding = size - overhead; padding >= size - overhead - 4; padding++)
        {
            var request = new ConfigRequest { SessionId = session, ClientType = new string('x', padding) };
            var actual = request.CalculateSize();
            if (actual == size)
            {
                return request.ToByteArray();
            }

            if (actual > size)
            {
                break;
            }
        }

        throw new InvalidOperationException($"No ConfigRequest of {size} bytes.");
    }

    private static byte[] Compress(byte[] message, string encoding) => encoding == "gzip" ? RawHttp2.Gzip(message) : RawHttp2.Deflate(message);

    private Task<RawHttp2.Result> SendAsync(byte[] message, string? encoding)
        => encoding is null
            ? RawHttp2.PostAsync(_gateway.Address, Config, RawHttp2.Frame(message), GatewayHost.AliceToken, Cancel)
            : RawHttp2.PostAsync(_gateway.Address, Config, RawHttp2.Frame(Compress(message, encoding), compressed: true), GatewayHost.AliceToken, Cancel, ("grpc-encoding", encoding));
}
