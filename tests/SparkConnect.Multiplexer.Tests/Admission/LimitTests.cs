using Google.Protobuf;
using Grpc.Core;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Admission;

[TestClass]
public sealed class LimitTests
{
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);
    private static readonly Metadata Bob = GatewayHost.Bearer(GatewayHost.BobToken);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task MaxSessionsPerUser_RefusesTheNextAndFreesOnRelease()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Limits.MaxSessionsPerUser = 2);
        var first = GatewayHost.NewSessionId();
        await Config(gateway, first, Alice);
        await Config(gateway, GatewayHost.NewSessionId(), Alice);
        await Config(gateway, first, Alice);

        var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => Config(gateway, GatewayHost.NewSessionId(), Alice));
        await Config(gateway, GatewayHost.NewSessionId(), Bob);
        await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = first }, Alice, cancellationToken: Cancel);
        await Config(gateway, GatewayHost.NewSessionId(), Alice);

        Assert.AreEqual(StatusCode.ResourceExhausted, refused.StatusCode);
        StringAssert.Contains(refused.Status.Detail, "most sessions allowed (2)");
        Assert.IsNull(RetryDelayOf(refused), "waiting does not cure a session limit: no RetryInfo");
    }

    [TestMethod]
    public async Task MaxSessionsPerClientAddress_CountsAllUsersFromIt()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Limits.MaxSessionsPerClientAddress = 1);
        await Config(gateway, GatewayHost.NewSessionId(), Alice);

        var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => Config(gateway, GatewayHost.NewSessionId(), Bob));

        Assert.AreEqual(StatusCode.ResourceExhausted, refused.StatusCode);
        StringAssert.Contains(refused.Status.Detail, "127.0.0.1");
    }

    [TestMethod]
    public async Task DenyLists_ArePermissionDeniedAndNeverReachTheEngine()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using (var byUser = await GatewayHost.StartAsync(engine, o => o.Limits.DeniedUsers.Add("bob")))
        {
            var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => Config(byUser, GatewayHost.NewSessionId(), Bob));
            Assert.AreEqual(StatusCode.PermissionDenied, refused.StatusCode);
            await Config(byUser, GatewayHost.NewSessionId(), Alice);
        }

        await using (var byAddress = await GatewayHost.StartAsync(engine, o => o.Limits.DeniedClientAddresses.Add("127.0.0.0/8")))
        {
            var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => Config(byAddress, GatewayHost.NewSessionId(), Alice));
            Assert.AreEqual(StatusCode.PermissionDenied, refused.StatusCode);
            StringAssert.Contains(refused.Status.Detail, "127.0.0.1");
        }

        Assert.AreEqual(1, engine.Calls.Count);
    }

    [TestMethod]
    public async Task MaxConcurrentExecutionsPerUser_RefusesWhileRunningThenAllows()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Limits.MaxConcurrentExecutionsPerUser = 1);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Script = async (call, context, write) =>
        {
            if (call.Method == "ExecutePlan")
            {
                await write(DefaultResponses.ExecutionResponse("s", engine.Name, "op", 0, 1, [1]));
                await release.Task.WaitAsync(context.CancellationToken);
            }
        };
        var session = GatewayHost.NewSessionId();

        using (var running = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = session }, Alice, cancellationToken: Cancel))
        {
            Assert.IsTrue(await running.ResponseStream.MoveNext(Cancel));
            using var second = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = session }, Alice, cancellationToken: Cancel);
            var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => second.ResponseStream.MoveNext(Cancel));
            Assert.AreEqual(StatusCode.ResourceExhausted, refused.StatusCode);
            StringAssert.Contains(refused.Status.Detail, "running executions");
            Assert.AreEqual(TimeSpan.FromSeconds(5), RetryDelayOf(refused), "waiting cures it: Spark clients get RetryInfo and wait");
            release.SetResult();
            Assert.IsFalse(await running.ResponseStream.MoveNext(Cancel));
        }

        engine.Script = null;
        using var third = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        Assert.IsTrue(await third.ResponseStream.MoveNext(Cancel), "the slot is free again once the first stream ended");
    }

    /// <summary>The delay of the google.rpc.RetryInfo in grpc-status-details-bin, or null when there is none.</summary>
    internal static TimeSpan? RetryDelayOf(RpcException e)
    {
        if (e.Trailers.GetValueBytes("grpc-status-details-bin") is not { } status)
        {
            return null;
        }

        foreach (var any in Fields(status, 3))
        {
            var typeUrl = Fields(any, 1).Select(b => System.Text.Encoding.UTF8.GetString(b)).SingleOrDefault();
            if (typeUrl == "type.googleapis.com/google.rpc.RetryInfo")
            {
                var duration = new CodedInputStream(Fields(Fields(any, 2).Single(), 1).Single());
                long seconds = 0, nanos = 0;
                for (uint tag; (tag = duration.ReadTag()) != 0;)
                {
                    if (tag == 8) { seconds = duration.ReadInt64(); } else if (tag == 16) { nanos = duration.ReadInt32(); } else { duration.SkipLastField(); }
                }

                return TimeSpan.FromSeconds(seconds) + TimeSpan.FromTicks(nanos / 100);
            }
        }

        return null;
    }

    private static List<byte[]> Fields(byte[] message, int field)
    {
        var input = new CodedInputStream(message);
        var found = new List<byte[]>();
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            if (WireFormat.GetTagFieldNumber(tag) == field && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                found.Add(input.ReadBytes().ToByteArray());
            }
            else
            {
                input.SkipLastField();
            }
        }

        return found;
    }

    private Task<ConfigResponse> Config(GatewayHost gateway, string session, Metadata headers)
        => gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, headers, cancellationToken: Cancel).ResponseAsync;
}
