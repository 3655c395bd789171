using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using SparkConnect.Multiplexer.Protocol;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Security;

/// <summary>
/// A bounded, seeded fuzz run: over ten thousand malformed, truncated, oversized and compressed requests over every
/// method. Whatever a client sends, the gateway answers with a client-error status — never INTERNAL, UNKNOWN or
/// UNAVAILABLE, which would blame the gateway or make Spark clients retry — and a valid call works afterwards.
/// The engine answers every call it receives without reading it, so any bad status is the gateway's own.
/// </summary>
[TestClass]
public sealed class RequestFuzzTests
{
    private const int Seed = 20261130;
    private const int Calls = 10_000;
    private const int MaxMessageSize = 64 * 1024;

    private static readonly string[] Methods =
    [
        .. SparkConnectMethods.All.Keys, "FutureRpc", "Config%23", "config", "ExecutePlan?x=1", "AddArtifacts/",
    ];

    private static readonly string?[] Encodings = [null, null, "gzip", "deflate", "identity", "snappy", ""];

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task MalformedRequests_NeverGetAServerErrorStatus_AndTheGatewayKeepsServing()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", TestContext.CancellationToken);
        engine.Script = (_, _, write) => write(new ConfigResponse { SessionId = "fuzz", ServerSideSessionId = "engine-a" }.ToByteArray());
        await using var gateway = await GatewayHost.StartAsync(engine, o =>
        {
            o.MaxMessageSize = MaxMessageSize;
            o.Authentication.Throttle.MaxFailures = 0;
            o.Authentication.Throttle.MaxFailuresPerAddress = 0;
        });

        var random = new Random(Seed);
        var cases = Enumerable.Range(0, Calls).Select(i => NextCase(random, i)).ToArray();
        var bad = new ConcurrentQueue<string>();
        var statuses = new ConcurrentDictionary<StatusCode, int>();
        var stopwatch = Stopwatch.StartNew();

        await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = TestContext.CancellationToken }, async (fuzz, ct) =>
        {
            var headers = fuzz.Encoding is null ? [] : new[] { ("grpc-encoding", fuzz.Encoding) };
            RawHttp2.Result result;
            try
            {
                result = await RawHttp2.PostAsync(gateway.Address, "/spark.connect.SparkConnectService/" + fuzz.Method, fuzz.Body, fuzz.Token, ct, headers);
            }
            catch (HttpRequestException e)
            {
                bad.Enqueue($"case {fuzz.Index} ({fuzz.Description}, {fuzz.Method}): {e.Message}");
                return;
            }

            statuses.AddOrUpdate(result.Status, 1, static (_, n) => n + 1);

            // The one status that is the engine's, relayed as sent: a method the gateway does not know may stream, so
            // its messages are all forwarded, and the test engine (where FutureRpc is unary) refuses the second.
            var enginesOwnAnswer = fuzz.Method == "FutureRpc" && fuzz.Description == "two messages" && result.Message == "Additional data after the message received.";
            if (!enginesOwnAnswer && (result.Status is StatusCode.Internal or StatusCode.Unknown or StatusCode.Unavailable || (int)result.Status < 0))
            {
                bad.Enqueue($"case {fuzz.Index} ({fuzz.Description}, {fuzz.Method}, {fuzz.Encoding}): {result.Status} {result.Message}");
            }
        });

        TestContext.WriteLine($"{Calls} calls in {stopwatch.Elapsed.TotalSeconds:F1} s: {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key} {s.Value}"))}");
        Assert.IsEmpty(bad, string.Join('\n', bad.Take(20)));
        Assert.IsGreaterThan(3, statuses.Count, "the cases reach several distinct refusals, not one early exit");

        var good = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual("engine-a", good.ServerSideSessionId);
    }

    private sealed record FuzzCase(int Index, string Method, byte[] Body, string? Encoding, string? Token, string Description);

    private static FuzzCase NextCase(Random random, int index)
    {
        var method = Methods[random.Next(Methods.Length)];
        var token = random.Next(10) switch
        {
            0 => null,
            1 => "not-a-token-anyone-has",
            _ => GatewayHost.AliceToken,
        };
        var encoding = Encodings[random.Next(Encodings.Length)];
        var valid = ValidRequest(random);
        var (body, description) = random.Next(10) switch
        {
            0 => (Bytes(random, random.Next(0, 64)), "random bytes"),
            1 => (RawHttp2.Frame(Bytes(random, random.Next(0, 256)), compressed: false), "random payload"),
            2 => (RawHttp2.Frame(Flip(random, valid), compressed: false), "flipped bits"),
            3 => (RawHttp2.Frame(valid, compressed: false)[..random.Next(0, valid.Length + 5)], "truncated frame"),
            4 => (RawHttp2.Frame(Compress(random, valid, encoding), compressed: true), "compressed"),
            5 => (RawHttp2.Frame(Cut(random, Compress(random, valid, encoding)), compressed: true), "compressed, cut"),
            6 => (RawHttp2.Frame(Compress(random, new byte[MaxMessageSize + random.Next(-2, 3)], encoding), compressed: random.Next(4) != 0), "compressed near the limit"),
            7 => (LengthPrefixOnly(random), "declared length past the limit"),
            8 => ([.. RawHttp2.Frame(valid, compressed: false), .. RawHttp2.Frame(Flip(random, valid), compressed: false)], "two messages"),
            _ => (RawHttp2.Frame(valid, compressed: false)[..Math.Min(5 + valid.Length, random.Next(5, 5 + valid.Length + 1))], "message cut anywhere"),
        };

        return new FuzzCase(index, method, body, encoding, token, description);
    }

    private static byte[] ValidRequest(Random random)
    {
        var request = new ConfigRequest
        {
            SessionId = random.Next(8) == 0 ? "not-a-uuid" : new Guid(Bytes(random, 16)).ToString(),
            UserContext = new UserContext { UserId = random.Next(2) == 0 ? "alice" : "mallory" },
            ClientType = new string('c', random.Next(0, 300)),
        };
        return request.ToByteArray();
    }

    private static byte[] LengthPrefixOnly(Random random)
    {
        var frame = new byte[5 + random.Next(0, 100)];
        frame[0] = (byte)random.Next(0, 3);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)random.Next(MaxMessageSize - 10, int.MaxValue));
        return frame;
    }

    private static byte[] Compress(Random random, byte[] data, string? encoding)
        => (encoding ?? (random.Next(2) == 0 ? "gzip" : "deflate")) == "deflate" ? RawHttp2.Deflate(data) : RawHttp2.Gzip(data);

    private static byte[] Cut(Random random, byte[] data) => data[..random.Next(0, data.Length)];

    private static byte[] Flip(Random random, byte[] data)
    {
        var copy = (byte[])data.Clone();
        for (var i = random.Next(1, 4); i > 0 && copy.Length > 0; i--)
        {
            copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
        }

        return copy;
    }

    private static byte[] Bytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
