using System.Net;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Benchmarks;

/// <summary>
/// A Spark Connect engine that is never the bottleneck: every method is bound as raw bytes and answered from
/// responses built at start-up. ExecutePlan sends <c>x-bench-batches</c> arrow_batch responses of
/// <c>x-bench-batch-bytes</c> each (pre-built, random bytes: nothing on the path decodes Arrow), then result_complete.
/// </summary>
internal sealed class SyntheticEngine : IAsyncDisposable
{
    public const string BatchesHeader = "x-bench-batches";
    public const string BatchBytesHeader = "x-bench-batch-bytes";

    /// <summary>Hostile run only: milliseconds between batches (slow streams held open).</summary>
    public const string DelayHeader = "x-bench-delay-ms";

    /// <summary>
    /// Hostile run only: after the first batch, <c>mid</c> writes the start of a further message (prefix and 4 KiB of
    /// a declared 1 MiB) and waits; <c>boundary</c> just waits. The run then kills the engine process.
    /// </summary>
    public const string HangHeader = "x-bench-hang";

    private readonly WebApplication _app;

    private SyntheticEngine(WebApplication app, IReadOnlyList<Uri> addresses)
    {
        _app = app;
        Addresses = addresses;
    }

    public Uri Address => Addresses[0];

    /// <summary>Every address the engine listens on, in the order of its listeners.</summary>
    public IReadOnlyList<Uri> Addresses { get; }

    public static Task<SyntheticEngine> StartAsync(IEnumerable<int> batchSizes, int port = 0) => StartAsync(batchSizes, [port]);

    /// <summary>One engine process listening on several ports: each port is a separate engine to a gateway.</summary>
    public static async Task<SyntheticEngine> StartAsync(IEnumerable<int> batchSizes, IReadOnlyList<int> ports)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            foreach (var port in ports)
            {
                k.Listen(IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http2);
            }

            k.Limits.Http2.MaxStreamsPerConnection = 1000;
        });
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = null;
            o.MaxSendMessageSize = null;
        });
        builder.Services.AddSingleton(new EngineResponses(batchSizes));
        builder.Services.AddSingleton<IServiceMethodProvider<EngineService>, EngineMethods>();
        var app = builder.Build();
        app.MapGrpcService<EngineService>();
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        return new SyntheticEngine(app, [.. addresses.Select(a => new Uri(a))]);
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}

/// <summary>The service type the raw methods bind to.</summary>
#pragma warning disable CA1812 // instantiated by grpc-dotnet
internal sealed class EngineService
{
}
#pragma warning restore CA1812

/// <summary>Every response the engine sends, serialized once.</summary>
internal sealed class EngineResponses
{
    private readonly Dictionary<int, byte[]> _batches = [];

    public EngineResponses(IEnumerable<int> batchSizes)
    {
        var random = new Random(8);
        foreach (var size in batchSizes)
        {
            var data = new byte[size];
            random.NextBytes(data);
            _batches[size] = new ExecutePlanResponse
            {
                SessionId = BenchRequests.ResponseSessionId,
                ServerSideSessionId = "bench-engine",
                OperationId = "00000000-0000-4000-8000-000000000001",
                ResponseId = "r",
                ArrowBatch = new ExecutePlanResponse.Types.ArrowBatch { RowCount = size / 8, Data = ByteString.CopyFrom(data) },
            }.ToByteArray();
        }

        Complete = new ExecutePlanResponse
        {
            SessionId = BenchRequests.ResponseSessionId,
            ServerSideSessionId = "bench-engine",
            OperationId = "00000000-0000-4000-8000-000000000001",
            ResultComplete = new ExecutePlanResponse.Types.ResultComplete(),
        }.ToByteArray();
        Analyze = new AnalyzePlanResponse
        {
            SessionId = BenchRequests.ResponseSessionId,
            ServerSideSessionId = "bench-engine",
            SparkVersion = new AnalyzePlanResponse.Types.SparkVersion { Version = "4.0.0" },
        }.ToByteArray();
        var config = new ConfigResponse { SessionId = BenchRequests.ResponseSessionId, ServerSideSessionId = "bench-engine" };
        config.Pairs.Add(new KeyValue { Key = "spark.sql.session.timeZone", Value = "UTC" });
        Config = config.ToByteArray();
    }

    public byte[] Analyze { get; }

    public byte[] Config { get; }

    public byte[] Complete { get; }

    public byte[] Batch(int size) => _batches.TryGetValue(size, out var batch)
        ? batch
        : throw new RpcException(new Status(StatusCode.InvalidArgument, $"no pre-built batch of {size} bytes"));
}

#pragma warning disable CA1812 // instantiated by dependency injection
internal sealed class EngineMethods(EngineResponses responses) : IServiceMethodProvider<EngineService>
#pragma warning restore CA1812
{
    private const string Service = "spark.connect.SparkConnectService";

    // Requests are not decoded: a marshaller that keeps nothing of the request.
    private static readonly Marshaller<byte[]> Request = Marshallers.Create<byte[]>(static b => b, static _ => []);
    private static readonly Marshaller<byte[]> Response = Marshallers.Create<byte[]>(static b => b, static b => b);

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<EngineService> context)
    {
        context.AddUnaryMethod(Unary("AnalyzePlan"), [], (_, _, _) => Task.FromResult(responses.Analyze));
        context.AddUnaryMethod(Unary("Config"), [], (_, _, _) => Task.FromResult(responses.Config));
        foreach (var name in new[] { "ReleaseSession", "Interrupt", "ReleaseExecute" })
        {
            context.AddUnaryMethod(Unary(name), [], (_, _, _) => Task.FromResult(responses.Config));
        }

        context.AddServerStreamingMethod(
            new Method<byte[], byte[]>(MethodType.ServerStreaming, Service, "ExecutePlan", Request, Response),
            [],
            (_, _, writer, call) => ExecuteAsync(writer, call));
    }

    private static Method<byte[], byte[]> Unary(string name) => new(MethodType.Unary, Service, name, Request, Response);

    private async Task ExecuteAsync(IServerStreamWriter<byte[]> writer, ServerCallContext call)
    {
        var headers = call.RequestHeaders;
        var batches = int.Parse(headers.GetValue(SyntheticEngine.BatchesHeader) ?? "1", System.Globalization.CultureInfo.InvariantCulture);
        var size = int.Parse(headers.GetValue(SyntheticEngine.BatchBytesHeader) ?? "65536", System.Globalization.CultureInfo.InvariantCulture);
        var batch = responses.Batch(size);
        var delay = int.Parse(headers.GetValue(SyntheticEngine.DelayHeader) ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        for (var i = 0; i < batches; i++)
        {
            if (i > 0 && delay > 0)
            {
                await Task.Delay(delay, call.CancellationToken);
            }

            await writer.WriteAsync(batch, call.CancellationToken);
        }

        if (headers.GetValue(SyntheticEngine.HangHeader) is { } hang)
        {
            if (hang == "mid")
            {
                // A message cut short: the gRPC prefix declares 1 MiB, only 4 KiB follow before the process dies.
                var body = call.GetHttpContext().Response.BodyWriter;
                var partial = new byte[5 + 4096];
                partial[2] = 0x10;
                await body.WriteAsync(partial, call.CancellationToken);
            }

            await Task.Delay(Timeout.Infinite, call.CancellationToken);
        }

        await writer.WriteAsync(responses.Complete, call.CancellationToken);
    }
}
