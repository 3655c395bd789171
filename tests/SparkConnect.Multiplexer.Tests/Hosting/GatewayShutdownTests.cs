using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Hosting;

[TestClass]
public sealed class GatewayShutdownTests
{
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task Stop_StreamFinishingWithinDrain_Completes()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.DrainTimeout = TimeSpan.FromSeconds(10));
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Script = async (call, context, write) =>
        {
            await write(DefaultResponses.ExecutionResponse("s", engine.Name, "op", 0, 1, [1]));
            await stopping.Task.WaitAsync(context.CancellationToken);
            await Task.Delay(300, context.CancellationToken);
            await write(DefaultResponses.ExecutionResponse("s", engine.Name, "op", 1, 1, [2]));
        };

        using var stream = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);
        Assert.IsTrue(await stream.ResponseStream.MoveNext(Cancel));
        var stop = gateway.Services.GetRequiredService<IHostApplicationLifetime>();
        stop.StopApplication();
        stopping.SetResult();

        Assert.IsTrue(await stream.ResponseStream.MoveNext(Cancel));
        Assert.AreEqual("r-1", stream.ResponseStream.Current.ResponseId);
        Assert.IsFalse(await stream.ResponseStream.MoveNext(Cancel));
    }

    [TestMethod]
    public async Task Stop_StreamOutlivingDrain_IsCancelledWithUnavailable()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.DrainTimeout = TimeSpan.FromSeconds(1));
        engine.Script = async (call, context, write) =>
        {
            await write(DefaultResponses.ExecutionResponse("s", engine.Name, "op", 0, 1, [1]));
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        };

        using var stream = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);
        Assert.IsTrue(await stream.ResponseStream.MoveNext(Cancel));
        gateway.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        var refusedNew = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel));
        var cut = await Assert.ThrowsExactlyAsync<RpcException>(() => stream.ResponseStream.MoveNext(Cancel).WaitAsync(TimeSpan.FromSeconds(20), Cancel));

        Assert.AreEqual(StatusCode.Unavailable, refusedNew.StatusCode, "new calls are sent elsewhere while draining");
        Assert.AreEqual(StatusCode.Unavailable, cut.StatusCode);
        StringAssert.Contains(cut.Status.Detail, "shutting down");
        await engine.Calls.First(c => c.Method == "ExecutePlan").Cancelled.WaitAsync(TimeSpan.FromSeconds(20), Cancel);
    }

    [TestMethod]
    public async Task Stop_SlowReaderOutlivingDrain_IsCutWithUnavailableNotInternal()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.DrainTimeout = TimeSpan.FromSeconds(1));
        var payload = new byte[256 * 1024];
        engine.Script = async (call, context, write) =>
        {
            // Far more than the HTTP/2 windows hold: the client, which stops reading, leaves data queued in the gateway.
            for (var i = 0; !context.CancellationToken.IsCancellationRequested; i++)
            {
                await write(DefaultResponses.ExecutionResponse("s", engine.Name, "op", i, 1, payload));
            }
        };

        using var stream = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);
        Assert.IsTrue(await stream.ResponseStream.MoveNext(Cancel));

        // The host stops as on SIGTERM, all the way; the client reads nothing meanwhile, then reads what is left.
        await gateway.StopAsync(Cancel).WaitAsync(TimeSpan.FromSeconds(60), Cancel);
        var cut = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
        {
            while (await stream.ResponseStream.MoveNext(Cancel).WaitAsync(TimeSpan.FromSeconds(20), Cancel))
            {
            }
        });

        Assert.AreEqual(StatusCode.Unavailable, cut.StatusCode, "Spark clients reattach after UNAVAILABLE; INTERNAL would fail the query: " + cut.Status.Detail + string.Join("\n", gateway.Logs.Entries.Select(e => e.Level + " " + e.Category + " " + e.Message)));
    }
}
