using System.Net;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SparkConnect.Multiplexer.Testing;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Security;

/// <summary>
/// Finding 4: an engine that dies at any byte of its response reaches a real gRPC client as UNAVAILABLE (which Spark
/// clients retry and reattach on), never as INTERNAL with a message cut short.
/// </summary>
[TestClass]
public sealed class EngineDeathTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow(0, true, DisplayName = "dies after the headers")]
    [DataRow(3, true, DisplayName = "dies inside the first message header")]
    [DataRow(40, true, DisplayName = "dies inside the first message")]
    [DataRow(-1, true, DisplayName = "dies right after a whole message")]
    [DataRow(-2, true, DisplayName = "dies inside the second message")]
    [DataRow(40, false, DisplayName = "ends cleanly, but inside a message")]
    public async Task EngineDyingMidResponse_ReachesTheClientAsUnavailable(int cutAt, bool abort)
    {
        var session = GatewayHost.NewSessionId();
        var first = RawHttp2.Frame(new ExecutePlanResponse { SessionId = session, ServerSideSessionId = "dying", ResponseId = "r1", ArrowBatch = new ExecutePlanResponse.Types.ArrowBatch { RowCount = 1, Data = ByteString.CopyFrom(new byte[1000]) } }.ToByteArray());
        var second = RawHttp2.Frame(new ExecutePlanResponse { SessionId = session, ServerSideSessionId = "dying", ResponseId = "r2", ArrowBatch = new ExecutePlanResponse.Types.ArrowBatch { RowCount = 1, Data = ByteString.CopyFrom(new byte[1000]) } }.ToByteArray());
        byte[] stream = [.. first, .. second];
        var cut = cutAt switch
        {
            -1 => first.Length,
            -2 => first.Length + 100,
            _ => cutAt,
        };

        await using var engine = await DyingEngine.StartAsync(stream[..cut], abort, TestContext.CancellationToken);
        await using var gateway = await GatewayHost.StartAsync(o => o.Engines.Default = new StaticEngineOptions { Address = engine.Address.ToString() });

        var failure = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
        {
            using var call = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = session }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: TestContext.CancellationToken);
            while (await call.ResponseStream.MoveNext(TestContext.CancellationToken))
            {
                Assert.AreEqual(1000, call.ResponseStream.Current.ArrowBatch.Data.Length, "only whole messages are delivered");
            }
        });

        Assert.AreEqual(StatusCode.Unavailable, failure.StatusCode, failure.Status.Detail);
    }

    /// <summary>An engine that answers ExecutePlan with the given bytes, then aborts the connection (or ends with OK).</summary>
    private sealed class DyingEngine : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private DyingEngine(WebApplication app, Uri address)
        {
            _app = app;
            Address = address;
        }

        public Uri Address { get; }

        public static async Task<DyingEngine> StartAsync(byte[] body, bool abort, CancellationToken cancellationToken)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
            var app = builder.Build();
            app.MapPost("/spark.connect.SparkConnectService/ExecutePlan", async context =>
            {
                await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
                context.Response.ContentType = "application/grpc";
                context.Response.DeclareTrailer("grpc-status");
                await context.Response.StartAsync(context.RequestAborted);
                await context.Response.Body.WriteAsync(body, context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                if (abort)
                {
                    await Task.Delay(50, context.RequestAborted);
                    context.Abort();
                    return;
                }

                context.Response.AppendTrailer("grpc-status", "0");
            });
            await app.StartAsync(cancellationToken);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new DyingEngine(app, new Uri(address));
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
