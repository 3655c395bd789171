using System.Globalization;
using System.Net;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Benchmarks;

/// <summary>Request messages, built once: the client's cost is the same on every path.</summary>
internal static class BenchRequests
{
    public const string Token = "bench-token-0123456789abcdef0123";
    public const string User = "bench";

    /// <summary>The synthetic engine does not read requests; its responses carry this id.</summary>
    public const string ResponseSessionId = "00000000-0000-4000-8000-000000000000";

    public static byte[] Analyze(string sessionId) => new AnalyzePlanRequest
    {
        SessionId = sessionId,
        UserContext = new UserContext { UserId = User, UserName = User },
        ClientType = "bench",
        SparkVersion = new AnalyzePlanRequest.Types.SparkVersion(),
    }.ToByteArray();

    public static byte[] Config(string sessionId) => new ConfigRequest
    {
        SessionId = sessionId,
        UserContext = new UserContext { UserId = User, UserName = User },
        ClientType = "bench",
        Operation = new ConfigRequest.Types.Operation { Get = new ConfigRequest.Types.Get { Keys = { "spark.sql.session.timeZone" } } },
    }.ToByteArray();

    public static byte[] Execute(string sessionId) => new ExecutePlanRequest
    {
        SessionId = sessionId,
        UserContext = new UserContext { UserId = User, UserName = User },
        ClientType = "bench",
        OperationId = Guid.NewGuid().ToString(),
        Plan = new Plan { Root = new Relation { Sql = new SQL { Query = "SELECT * FROM bench" } } },
    }.ToByteArray();
}

/// <summary>What the client keeps of a response message: its size (the payload is never copied out).</summary>
internal sealed class Received(long length)
{
    public long Length { get; } = length;
}

/// <summary>A raw-bytes Spark Connect client on one HTTP/2 channel.</summary>
internal sealed class BenchClient : IDisposable
{
    private const string Service = "spark.connect.SparkConnectService";

    private static readonly Marshaller<byte[]> RequestMarshaller = Marshallers.Create<byte[]>(static b => b, static b => b);
    private static readonly Marshaller<Received> ResponseMarshaller = new(
        static (_, _) => throw new NotSupportedException(),
        static c => new Received(c.PayloadLength));

    private static readonly Method<byte[], Received> AnalyzeMethod = new(MethodType.Unary, Service, "AnalyzePlan", RequestMarshaller, ResponseMarshaller);
    private static readonly Method<byte[], Received> ConfigMethod = new(MethodType.Unary, Service, "Config", RequestMarshaller, ResponseMarshaller);
    private static readonly Method<byte[], Received> ExecuteMethod = new(MethodType.ServerStreaming, Service, "ExecutePlan", RequestMarshaller, ResponseMarshaller);

    private readonly GrpcChannel _channel;
    private readonly CallInvoker _invoker;
    private readonly Metadata _auth;
    private readonly string _token;

    public BenchClient(Uri address, string token = BenchRequests.Token)
    {
        _token = token;
        _auth = new() { { "authorization", "Bearer " + token } };
        _channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            MaxReceiveMessageSize = null,
            MaxSendMessageSize = null,
            HttpHandler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                UseProxy = false,
                AutomaticDecompression = DecompressionMethods.None,
            },
        });
        _invoker = _channel.CreateCallInvoker();
    }

    public async Task<long> UnaryAsync(bool analyze, byte[] request)
    {
        var response = await _invoker.AsyncUnaryCall(analyze ? AnalyzeMethod : ConfigMethod, null, new CallOptions(_auth), request);
        return response.Length;
    }

    /// <summary>
    /// Runs one ExecutePlan and returns the bytes of every response message. <paramref name="delayMs"/> makes the
    /// engine wait between batches (a stream held open); <paramref name="opened"/> runs when the first message arrives.
    /// </summary>
    public async Task<long> ExecuteAsync(byte[] request, int batches, int batchBytes, int delayMs = 0, Action? opened = null)
    {
        var headers = new Metadata
        {
            { "authorization", "Bearer " + _token },
            { SyntheticEngine.BatchesHeader, batches.ToString(CultureInfo.InvariantCulture) },
            { SyntheticEngine.BatchBytesHeader, batchBytes.ToString(CultureInfo.InvariantCulture) },
        };
        if (delayMs > 0)
        {
            headers.Add(SyntheticEngine.DelayHeader, delayMs.ToString(CultureInfo.InvariantCulture));
        }

        using var call = _invoker.AsyncServerStreamingCall(ExecuteMethod, null, new CallOptions(headers), request);
        long total = 0;
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            if (total == 0)
            {
                opened?.Invoke();
            }

            total += call.ResponseStream.Current.Length;
        }

        return total;
    }

    public void Dispose() => _channel.Dispose();
}
