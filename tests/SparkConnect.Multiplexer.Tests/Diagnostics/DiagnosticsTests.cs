using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Diagnostics;

// Listeners are process-wide; this class must not overlap with itself.
[TestClass]
[DoNotParallelize]
public sealed class DiagnosticsTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task TraceContext_ReachesTheEngineInTheClientsTrace()
    {
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "SparkConnect.Multiplexer",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var traceId = ActivityTraceId.CreateRandom();
        var clientSpan = ActivitySpanId.CreateRandom();
        var headers = GatewayHost.Bearer(GatewayHost.AliceToken);
        headers.Add("traceparent", $"00-{traceId}-{clientSpan}-01");

        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, headers, cancellationToken: Cancel);

        var forwarded = engine.Calls.Single().Header("traceparent");
        Assert.IsNotNull(forwarded);
        var parts = forwarded.Split('-');
        Assert.AreEqual(traceId.ToString(), parts[1], "same trace");
        Assert.AreNotEqual(clientSpan.ToString(), parts[2], "the gateway's span is the engine call's parent");
    }

    [TestMethod]
    public async Task TraceContext_WithoutListeners_PassesTheClientsHeaderOn()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var traceparent = $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01";
        var headers = GatewayHost.Bearer(GatewayHost.AliceToken);
        headers.Add("traceparent", traceparent);

        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, headers, cancellationToken: Cancel);

        Assert.AreEqual(traceparent, engine.Calls.Single().Header("traceparent"));
    }

    [TestMethod]
    public async Task Meter_CountsCallsByMethodAndStatus_BytesAndSessions()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var meterFactory = (IMeterFactory)gateway.Services.GetService(typeof(IMeterFactory))!;
        var measurements = new List<(string Instrument, long Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "SparkConnect.Multiplexer" && instrument.Meter.Scope == meterFactory.Create("SparkConnect.Multiplexer").Scope)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            lock (measurements)
            {
                measurements.Add((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value)));
            }
        });
        listener.Start();

        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel);
        await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, cancellationToken: Cancel));

        lock (measurements)
        {
            var calls = measurements.Where(m => m.Instrument == "spark_connect.gateway.calls").ToList();
            Assert.IsTrue(calls.Any(m => (string?)m.Tags["rpc.method"] == "Config" && (int?)m.Tags["rpc.grpc.status_code"] == 0));
            Assert.IsTrue(calls.Any(m => (string?)m.Tags["rpc.method"] == "Config" && (int?)m.Tags["rpc.grpc.status_code"] == (int)StatusCode.Unauthenticated));
            Assert.IsTrue(measurements.Any(m => m.Instrument == "spark_connect.gateway.forwarded.bytes" && (string?)m.Tags["direction"] == "response" && m.Value > 0));
            Assert.AreEqual(1, measurements.Where(m => m.Instrument == "spark_connect.gateway.sessions.active").Sum(m => m.Value));
        }
    }

    [TestMethod]
    public async Task Spans_FollowTheRpcConventions_ServerSpanCoversRouting_ClientSpanNamesTheEngine()
    {
        var stopped = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "SparkConnect.Multiplexer",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                lock (stopped)
                {
                    stopped.Add(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var traceId = ActivityTraceId.CreateRandom();
        var headers = GatewayHost.Bearer(GatewayHost.AliceToken);
        headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, headers, cancellationToken: Cancel);
        var refused = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, cancellationToken: Cancel));

        List<Activity> spans;
        lock (stopped)
        {
            spans = [.. stopped];
        }

        var server = spans.Single(a => a.Kind == ActivityKind.Server && a.TraceId == traceId);
        var client = spans.Single(a => a.Kind == ActivityKind.Client && a.TraceId == traceId);
        Assert.AreEqual("spark.connect.SparkConnectService/Config", server.DisplayName);
        Assert.AreEqual("spark.connect.SparkConnectService/Config", client.DisplayName);
        Assert.AreEqual(server.SpanId, client.ParentSpanId, "the engine call is inside the call's span, which began before routing");
        Assert.AreEqual("grpc", server.GetTagItem("rpc.system"));
        Assert.AreEqual("spark.connect.SparkConnectService", server.GetTagItem("rpc.service"));
        Assert.AreEqual("Config", server.GetTagItem("rpc.method"));
        Assert.AreEqual(0, server.GetTagItem("rpc.grpc.status_code"));
        Assert.AreEqual(engine.Address.Host, client.GetTagItem("server.address"));
        Assert.AreEqual(engine.Address.Port, client.GetTagItem("server.port"));
        Assert.AreEqual(StatusCode.Unauthenticated, refused.StatusCode);
        var unauthenticated = spans.Single(a => a.Kind == ActivityKind.Server && a.TraceId != traceId && (int?)a.GetTagItem("rpc.grpc.status_code") == (int)StatusCode.Unauthenticated);
        Assert.IsNull(unauthenticated.GetTagItem("error.type"), "a client's mistake is not the server's error");
    }
}
