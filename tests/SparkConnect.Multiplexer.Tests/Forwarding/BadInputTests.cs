using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Forwarding;

/// <summary>Every bad input gets a clear status, nothing reaches the engine, and the gateway keeps serving.</summary>
[TestClass]
public sealed class BadInputTests
{
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);

    private static RecordingEngine _engine = null!;
    private static GatewayHost _gateway = null!;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context)
    {
        _engine = await RecordingEngine.StartAsync("engine-a", context.CancellationToken);
        _gateway = await GatewayHost.StartAsync(_engine, o => o.MaxMessageSize = 64 * 1024);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _gateway.DisposeAsync();
        await _engine.DisposeAsync();
    }

    [TestMethod]
    public Task MissingToken_IsUnauthenticated()
        => AssertRefusedAsync(new Metadata(), new ConfigRequest { SessionId = GatewayHost.NewSessionId() }.ToByteArray(), StatusCode.Unauthenticated, "No credential this gateway accepts was sent: add ;token=<your token>");

    [TestMethod]
    public async Task WrongToken_IsUnauthenticatedWithoutRevealingWhy()
    {
        var status = await AssertRefusedAsync(GatewayHost.Bearer("not-a-token-anyone-has"), new ConfigRequest { SessionId = GatewayHost.NewSessionId() }.ToByteArray(), StatusCode.Unauthenticated, "Invalid token");
        Assert.AreEqual("Invalid token.", status.Detail);
    }

    [TestMethod]
    public Task SessionIdNotAUuid_IsInvalidArgument()
        => AssertRefusedAsync(Alice, new ConfigRequest { SessionId = "my-session" }.ToByteArray(), StatusCode.InvalidArgument, "session_id 'my-session' is not a UUID");

    [TestMethod]
    public Task SessionIdMissing_IsInvalidArgument()
        => AssertRefusedAsync(Alice, new ConfigRequest().ToByteArray(), StatusCode.InvalidArgument, "no session_id");

    [TestMethod]
    public Task MalformedProtobuf_IsInvalidArgument()
        => AssertRefusedAsync(Alice, [0x0A, 0x24, 0x31, 0x32], StatusCode.InvalidArgument, "not a valid Spark Connect request");

    [TestMethod]
    public Task SessionIdNotUtf8_IsInvalidArgument()
        => AssertRefusedAsync(Alice, [0x0A, 0x02, 0xC3, 0x28], StatusCode.InvalidArgument, "session_id is not valid UTF-8");

    [TestMethod]
    public Task MessageOverTheLimit_IsResourceExhausted()
        => AssertRefusedAsync(
            Alice,
            new ConfigRequest { SessionId = GatewayHost.NewSessionId(), ClientType = new string('x', 70 * 1024) }.ToByteArray(),
            StatusCode.ResourceExhausted,
            "larger than max");

    [TestMethod]
    public Task EmptyClientStream_IsInvalidArgument()
        => AssertRefusedAsync(Alice, null, StatusCode.InvalidArgument, "no request message");

    [TestMethod]
    public async Task NoEngineForTheUser_IsFailedPreconditionWithTheFix()
    {
        await using var gateway = await GatewayHost.StartAsync(o => o.Engines.Users["bob"] = new StaticEngineOptions { Address = _engine.Address.ToString() });

        var failed = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: TestContext.CancellationToken));

        // Not UNAVAILABLE: Spark clients would retry a configuration gap for minutes.
        Assert.AreEqual(StatusCode.FailedPrecondition, failed.StatusCode);
        StringAssert.Contains(failed.Status.Detail, "No engine is configured for user 'alice'");
    }

    [TestMethod]
    public async Task Http1Request_GetsUpgradeRequired()
    {
        // A port that also speaks HTTP/1.1 lets the request reach the gateway, which must refuse it: gRPC needs HTTP/2.
        await using var gateway = await GatewayHost.StartAsync(o => o.Engines.Default = new StaticEngineOptions { Address = _engine.Address.ToString() }, protocols: HttpProtocols.Http1AndHttp2);
        using var http = new HttpClient();
        using var content = new ByteArrayContent([0, 0, 0, 0, 0]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");

        using var response = await http.PostAsync(new Uri(gateway.Address, "/spark.connect.SparkConnectService/Config"), content, TestContext.CancellationToken);

        Assert.AreEqual(HttpStatusCode.UpgradeRequired, response.StatusCode);
    }

    [TestMethod]
    public async Task NonGrpcContentType_GetsUnsupportedMediaType()
    {
        using var http = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");

        using var response = await http.PostAsync(new Uri(_gateway.Address, "/spark.connect.SparkConnectService/Config"), content, TestContext.CancellationToken);

        Assert.AreEqual(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [TestMethod]
    public async Task HealthService_ReportsServing()
    {
        var health = new Health.HealthClient(_gateway.Channel);

        var reply = await health.CheckAsync(new HealthCheckRequest(), cancellationToken: TestContext.CancellationToken);

        Assert.AreEqual(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
    }

    private async Task<Status> AssertRefusedAsync(Metadata headers, byte[]? request, StatusCode expected, string messagePart)
    {
        var before = _engine.Calls.Count;
        var invoker = _gateway.Channel.CreateCallInvoker();
        RpcException failed;
        if (request is null)
        {
            using var call = invoker.AsyncClientStreamingCall(RawCalls.Method("AddArtifacts", MethodType.ClientStreaming), null, new CallOptions(headers, cancellationToken: TestContext.CancellationToken));
            await call.RequestStream.CompleteAsync();
            failed = await Assert.ThrowsExactlyAsync<RpcException>(() => call.ResponseAsync);
        }
        else
        {
            failed = await Assert.ThrowsExactlyAsync<RpcException>(() => RawCalls.UnaryAsync(invoker, "Config", request, headers));
        }

        Assert.AreEqual(expected, failed.StatusCode, failed.Status.Detail);
        StringAssert.Contains(failed.Status.Detail, messagePart, StringComparison.Ordinal);
        Assert.AreEqual(before, _engine.Calls.Count, "a refused call must not reach the engine");

        // The gateway keeps serving after every bad input.
        var good = await _gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual("engine-a", good.ServerSideSessionId);
        return failed.Status;
    }
}
