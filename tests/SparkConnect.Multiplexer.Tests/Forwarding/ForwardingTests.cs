using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Forwarding;

[TestClass]
public sealed class ForwardingTests
{
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);
    private static readonly Metadata Bob = GatewayHost.Bearer(GatewayHost.BobToken);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task EveryMethod_IsForwardedWithItsSession()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var session = GatewayHost.NewSessionId();
        var client = gateway.Client;

        await client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        await client.AnalyzePlanAsync(new AnalyzePlanRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        await client.ArtifactStatusAsync(new ArtifactStatusesRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        await client.InterruptAsync(new InterruptRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        await client.ReleaseExecuteAsync(new ReleaseExecuteRequest { SessionId = session, OperationId = Guid.NewGuid().ToString() }, Alice, cancellationToken: Cancel);
        await client.FetchErrorDetailsAsync(new FetchErrorDetailsRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        await client.GetStatusAsync(new GetStatusRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        await client.CloneSessionAsync(new CloneSessionRequest { SessionId = session, NewSessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);
        using (var execute = client.ExecutePlan(new ExecutePlanRequest { SessionId = session, OperationId = Guid.NewGuid().ToString() }, Alice, cancellationToken: Cancel))
        {
            await foreach (var response in execute.ResponseStream.ReadAllAsync(Cancel))
            {
                Assert.AreEqual("engine-a", response.ServerSideSessionId);
            }
        }

        using (var reattach = client.ReattachExecute(new ReattachExecuteRequest { SessionId = session, OperationId = Guid.NewGuid().ToString() }, Alice, cancellationToken: Cancel))
        {
            Assert.AreEqual(3, (await reattach.ResponseStream.ReadAllAsync(Cancel).ToListAsync(Cancel)).Count);
        }

        using (var artifacts = client.AddArtifacts(Alice, cancellationToken: Cancel))
        {
            await artifacts.RequestStream.WriteAsync(new AddArtifactsRequest { SessionId = session }, Cancel);
            await artifacts.RequestStream.WriteAsync(new AddArtifactsRequest { SessionId = session }, Cancel);
            await artifacts.RequestStream.CompleteAsync();
            Assert.AreEqual(session, (await artifacts.ResponseAsync).SessionId);
        }

        // A method no released Spark has: routed by the same envelope.
        var future = await RawCalls.UnaryAsync(gateway.Channel.CreateCallInvoker(), "FutureRpc", new ConfigRequest { SessionId = session }.ToByteArray(), Alice);
        Assert.AreEqual("engine-a", ConfigResponse.Parser.ParseFrom(future).ServerSideSessionId);
        await client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = session }, Alice, cancellationToken: Cancel);

        string[] expected = ["Config", "AnalyzePlan", "ArtifactStatus", "Interrupt", "ReleaseExecute", "FetchErrorDetails", "GetStatus", "CloneSession", "ExecutePlan", "ReattachExecute", "AddArtifacts", "FutureRpc", "ReleaseSession"];
        CollectionAssert.AreEqual(expected, engine.Calls.Select(c => c.Method).ToArray());
        foreach (var call in engine.Calls)
        {
            foreach (var request in call.Requests)
            {
                var envelope = ConfigRequest.Parser.ParseFrom(WireFields.Without(request, 3).Concat(Array.Empty<byte>()).ToArray());
                Assert.AreEqual(session, envelope.SessionId, call.Method);
                Assert.AreEqual("alice", envelope.UserContext.UserId, call.Method);
            }
        }

        Assert.AreEqual(2, engine.CallsTo("AddArtifacts")[0].Requests.Count, "each client-stream message is forwarded");
    }

    [TestMethod]
    public async Task UserContext_IsRewrittenToThePrincipal_AndExtensionsKept()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var request = new ConfigRequest
        {
            SessionId = GatewayHost.NewSessionId(),
            UserContext = new UserContext { UserId = "mallory", UserName = "Mallory" },
        };
        request.UserContext.Extensions.Add(Any.Pack(new StringValue { Value = "client extension" }));

        await gateway.Client.ConfigAsync(request, Alice, cancellationToken: Cancel);

        var received = ConfigRequest.Parser.ParseFrom(engine.Calls.Single().Requests.Single());
        Assert.AreEqual("alice", received.UserContext.UserId);
        Assert.AreEqual("alice", received.UserContext.UserName);
        Assert.AreEqual("client extension", received.UserContext.Extensions.Single().Unpack<StringValue>().Value);
    }

    [TestMethod]
    public async Task UnknownAndOtherFields_ArriveByteForByte()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var known = new ExecutePlanRequest
        {
            SessionId = GatewayHost.NewSessionId(),
            UserContext = new UserContext { UserId = "mallory" },
            OperationId = Guid.NewGuid().ToString(),
            ClientType = "pyspark/4.0",
            Plan = new Plan { Root = new Relation { Sql = new SQL { Query = "SELECT 1" } } },
        };
        known.Tags.Add("nightly");

        // Field 4242 exists in no Spark version: a future field must reach the engine untouched.
        var unknown = new MemoryStream();
        var output = new CodedOutputStream(unknown);
        output.WriteTag(4242, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(Enumerable.Range(0, 300).Select(i => (byte)i).ToArray()));
        output.WriteTag(4243, WireFormat.WireType.Varint);
        output.WriteUInt64(ulong.MaxValue);
        output.Flush();
        var sent = known.ToByteArray().Concat(unknown.ToArray()).ToArray();

        var invoker = gateway.Channel.CreateCallInvoker();
        using (var call = invoker.AsyncServerStreamingCall(RawCalls.Method("ExecutePlan", MethodType.ServerStreaming), null, new CallOptions(Alice, cancellationToken: Cancel), sent))
        {
            await call.ResponseStream.ReadAllAsync(Cancel).ToListAsync(Cancel);
        }

        var received = engine.Calls.Single().Requests.Single();
        CollectionAssert.AreEqual(WireFields.Without(sent, 2), WireFields.Without(received, 2));
    }

    [TestMethod]
    public async Task TwoUsers_AreRoutedToTheirOwnEngines()
    {
        await using var engineA = await RecordingEngine.StartAsync("engine-alice", Cancel);
        await using var engineB = await RecordingEngine.StartAsync("engine-bob", Cancel);
        await using var gateway = await GatewayHost.StartAsync(o =>
        {
            o.Engines.Users["alice"] = new StaticEngineOptions { Address = engineA.Address.ToString() };
            o.Engines.Users["bob"] = new StaticEngineOptions { Address = engineB.Address.ToString() };
        });

        var a = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);
        var b = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Bob, cancellationToken: Cancel);

        Assert.AreEqual("engine-alice", a.ServerSideSessionId);
        Assert.AreEqual("engine-bob", b.ServerSideSessionId);
        Assert.AreEqual("alice", ConfigRequest.Parser.ParseFrom(engineA.Calls.Single().Requests[0]).UserContext.UserId);
        Assert.AreEqual("bob", ConfigRequest.Parser.ParseFrom(engineB.Calls.Single().Requests[0]).UserContext.UserId);
    }

    [TestMethod]
    public async Task SessionOfAnotherUser_IsRefusedAndNothingForwarded()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var session = GatewayHost.NewSessionId();
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);

        var refused = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session, UserContext = new UserContext { UserId = "alice" } }, Bob, cancellationToken: Cancel));

        Assert.AreEqual(StatusCode.PermissionDenied, refused.StatusCode);
        StringAssert.Contains(refused.Status.Detail, "belongs to another user");
        Assert.AreEqual(1, engine.Calls.Count);
        Assert.IsTrue(gateway.Logs.Entries.Any(e => e.Message.Contains($"Refused session {session} to bob", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task ReattachReleaseInterruptAndErrorDetails_FollowTheSessionsEngine()
    {
        await using var engineA = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var engineB = await RecordingEngine.StartAsync("engine-b", Cancel);
        await using var gateway = await GatewayHost.StartAsync(_ => { }, g => g.UseAlternatingEngines(engineA.Address, engineB.Address));
        var first = GatewayHost.NewSessionId();
        var second = GatewayHost.NewSessionId();
        var operation = Guid.NewGuid().ToString();

        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = first }, Alice, cancellationToken: Cancel);
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = second }, Alice, cancellationToken: Cancel);
        foreach (var session in new[] { first, second })
        {
            using var reattach = gateway.Client.ReattachExecute(new ReattachExecuteRequest { SessionId = session, OperationId = operation }, Alice, cancellationToken: Cancel);
            await reattach.ResponseStream.ReadAllAsync(Cancel).ToListAsync(Cancel);
            await gateway.Client.ReleaseExecuteAsync(new ReleaseExecuteRequest { SessionId = session, OperationId = operation }, Alice, cancellationToken: Cancel);
            await gateway.Client.InterruptAsync(new InterruptRequest { SessionId = session, OperationId = operation }, Alice, cancellationToken: Cancel);
            await gateway.Client.FetchErrorDetailsAsync(new FetchErrorDetailsRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        }

        string[] expected = ["Config", "ReattachExecute", "ReleaseExecute", "Interrupt", "FetchErrorDetails"];
        CollectionAssert.AreEqual(expected, engineA.Calls.Select(c => c.Method).ToArray());
        CollectionAssert.AreEqual(expected, engineB.Calls.Select(c => c.Method).ToArray());
        Assert.IsTrue(engineA.Calls.All(c => ConfigRequest.Parser.ParseFrom(WireFields.Without(c.Requests[0], 3)).SessionId == first));
        Assert.IsTrue(engineB.Calls.All(c => ConfigRequest.Parser.ParseFrom(WireFields.Without(c.Requests[0], 3)).SessionId == second));
    }

    [TestMethod]
    public async Task FirstStreamedResponse_ArrivesBeforeTheEngineFinishes()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Script = async (call, context, write) =>
        {
            await write(DefaultResponses.ExecutionResponse("s", engine.Name, "op", 0, 1, [1]));
            await release.Task.WaitAsync(context.CancellationToken);
            await write(DefaultResponses.ExecutionResponse("s", engine.Name, "op", 1, 1, [2]));
        };

        using var execute = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);
        var firstArrived = execute.ResponseStream.MoveNext(Cancel);

        Assert.IsTrue(await firstArrived.WaitAsync(TimeSpan.FromSeconds(20), Cancel), "the first response arrives while the engine is still running");
        Assert.AreEqual("r-0", execute.ResponseStream.Current.ResponseId);
        release.SetResult();
        Assert.IsTrue(await execute.ResponseStream.MoveNext(Cancel));
        Assert.AreEqual("r-1", execute.ResponseStream.Current.ResponseId);
        Assert.IsFalse(await execute.ResponseStream.MoveNext(Cancel));
    }

    [TestMethod]
    public async Task ClientCancel_ReachesTheEngine()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Script = async (call, context, write) =>
        {
            await write(DefaultResponses.ExecutionResponse("s", engine.Name, "op", 0, 1, [1]));
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        };

        using var cancel = new CancellationTokenSource();
        using var execute = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: cancel.Token);
        Assert.IsTrue(await execute.ResponseStream.MoveNext(Cancel));
        await started.Task.WaitAsync(TimeSpan.FromSeconds(20), Cancel);
        await cancel.CancelAsync();

        await engine.Calls.Single().Cancelled.WaitAsync(TimeSpan.FromSeconds(20), Cancel);
    }

    [TestMethod]
    public async Task ClientDeadline_IsPassedOnAndEnforced()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        engine.Script = (call, context, write) => Task.Delay(Timeout.Infinite, context.CancellationToken);

        var expired = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, DateTime.UtcNow.AddSeconds(2), Cancel));

        Assert.AreEqual(StatusCode.DeadlineExceeded, expired.StatusCode);
        var engineDeadline = engine.Calls.Single().Deadline;
        Assert.AreNotEqual(DateTime.MaxValue, engineDeadline, "the engine gets the client's remaining deadline");
        Assert.IsTrue(engineDeadline <= DateTime.UtcNow.AddSeconds(2), $"engine deadline {engineDeadline:O} is later than the client's");
        await engine.Calls.Single().Cancelled.WaitAsync(TimeSpan.FromSeconds(20), Cancel);
    }

    [TestMethod]
    public async Task EngineError_StatusMessageAndTrailersPassUnchanged()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var details = Enumerable.Range(0, 200).Select(i => (byte)(i * 7)).ToArray();
        engine.Script = (call, context, write) => throw new RpcException(
            new Status(StatusCode.Internal, "[TABLE_OR_VIEW_NOT_FOUND] The table `t` cannot be found. 100% sure ✓"),
            new Metadata { { "grpc-status-details-bin", details }, { "x-engine-note", "kept" } });

        var failed = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.AnalyzePlanAsync(new AnalyzePlanRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel));

        Assert.AreEqual(StatusCode.Internal, failed.StatusCode);
        Assert.AreEqual("[TABLE_OR_VIEW_NOT_FOUND] The table `t` cannot be found. 100% sure ✓", failed.Status.Detail);
        CollectionAssert.AreEqual(details, failed.Trailers.GetValueBytes("grpc-status-details-bin"));
        Assert.AreEqual("kept", failed.Trailers.GetValue("x-engine-note"));
    }

    [TestMethod]
    public async Task EngineErrorAfterResponses_KeepsResponsesAndTrailers()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        engine.Script = async (call, context, write) =>
        {
            await write(DefaultResponses.ExecutionResponse("s", engine.Name, "op", 0, 1, [1]));
            throw new RpcException(new Status(StatusCode.Internal, "division by zero"), new Metadata { { "grpc-status-details-bin", new byte[] { 1, 2, 3 } } });
        };

        using var execute = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);
        Assert.IsTrue(await execute.ResponseStream.MoveNext(Cancel));
        var failed = await Assert.ThrowsExactlyAsync<RpcException>(() => execute.ResponseStream.MoveNext(Cancel));

        Assert.AreEqual(StatusCode.Internal, failed.StatusCode);
        Assert.AreEqual("division by zero", failed.Status.Detail);
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, failed.Trailers.GetValueBytes("grpc-status-details-bin"));
    }

    [TestMethod]
    public async Task EngineDown_GivesUnavailableNamingTheEngine()
    {
        using var closed = new ClosedPort();
        await using var gateway = await GatewayHost.StartAsync(o => o.Engines.Default = new StaticEngineOptions { Address = $"http://127.0.0.1:{closed.Port}" });

        var failed = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel));

        Assert.AreEqual(StatusCode.Unavailable, failed.StatusCode);
        StringAssert.Contains(failed.Status.Detail, "static:default");
        StringAssert.Contains(failed.Status.Detail, $"127.0.0.1:{closed.Port}");
    }

    [TestMethod]
    public async Task EngineDiesMidStream_GivesUnavailableNotAHang()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        engine.Script = async (call, context, write) =>
        {
            await write(DefaultResponses.ExecutionResponse("s", engine.Name, "op", 0, 1, [1]));
            await Task.Delay(100, context.CancellationToken);
            context.GetHttpContext().Abort();
        };

        using var execute = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = GatewayHost.NewSessionId() }, Alice, cancellationToken: Cancel);
        Assert.IsTrue(await execute.ResponseStream.MoveNext(Cancel));
        var failed = await Assert.ThrowsExactlyAsync<RpcException>(() => execute.ResponseStream.MoveNext(Cancel).WaitAsync(TimeSpan.FromSeconds(30), Cancel));

        Assert.AreEqual(StatusCode.Unavailable, failed.StatusCode);
        StringAssert.Contains(failed.Status.Detail, "failed mid-stream");
        StringAssert.Contains(failed.Status.Detail, "static:default");
    }

    [TestMethod]
    public async Task Headers_ClientCredentialDroppedEngineTokenSentCustomHeadersKept()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Engines.Default!.Token = "engine-secret");
        var headers = new Metadata { { "authentication", "Bearer " + GatewayHost.AliceToken }, { "x-request-tag", "nightly" }, { "share_level", "USER" } };

        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, headers, cancellationToken: Cancel);

        var call = engine.Calls.Single();
        Assert.AreEqual("Bearer engine-secret", call.Header("authorization"));
        Assert.IsNull(call.Header("authentication"), "the client's credential must not reach the engine");
        Assert.AreEqual("nightly", call.Header("x-request-tag"));
        Assert.AreEqual("USER", call.Header("share_level"));
        Assert.IsFalse(gateway.Logs.Entries.Any(e => e.Message.Contains(GatewayHost.AliceToken, StringComparison.Ordinal) || e.Message.Contains("engine-secret", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task CloneSession_NewSessionBelongsToTheSameUserOnTheSameEngine()
    {
        await using var engineA = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var engineB = await RecordingEngine.StartAsync("engine-b", Cancel);
        await using var gateway = await GatewayHost.StartAsync(_ => { }, g => g.UseAlternatingEngines(engineA.Address, engineB.Address));
        var source = GatewayHost.NewSessionId();
        var clone = GatewayHost.NewSessionId();
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = source }, Alice, cancellationToken: Cancel);

        await gateway.Client.CloneSessionAsync(new CloneSessionRequest { SessionId = source, NewSessionId = clone }, Alice, cancellationToken: Cancel);
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = clone }, Alice, cancellationToken: Cancel);
        var hijack = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = clone }, Bob, cancellationToken: Cancel));

        Assert.AreEqual(StatusCode.PermissionDenied, hijack.StatusCode);
        CollectionAssert.AreEqual(new[] { "Config", "CloneSession", "Config" }, engineA.Calls.Select(c => c.Method).ToArray());
        Assert.AreEqual(0, engineB.Calls.Count);
    }

    [TestMethod]
    public async Task CloneSession_WithoutNewId_GatewayChoosesAndOwnsIt()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var source = GatewayHost.NewSessionId();

        await gateway.Client.CloneSessionAsync(new CloneSessionRequest { SessionId = source }, Alice, cancellationToken: Cancel);

        var chosen = CloneSessionRequest.Parser.ParseFrom(engine.Calls.Single().Requests.Single()).NewSessionId;
        Assert.IsTrue(Guid.TryParseExact(chosen, "D", out _), chosen);
        var hijack = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = chosen }, Bob, cancellationToken: Cancel));
        Assert.AreEqual(StatusCode.PermissionDenied, hijack.StatusCode);
    }

    [TestMethod]
    public async Task ReleaseSession_FreesTheSession()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var session = GatewayHost.NewSessionId();
        var store = (ISessionStore)gateway.Services.GetService(typeof(ISessionStore))!;
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, Alice, cancellationToken: Cancel);
        Assert.IsNotNull(await store.GetAsync(session, Cancel));

        await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = session }, Alice, cancellationToken: Cancel);

        Assert.IsNull(await store.GetAsync(session, Cancel));
    }

    [TestMethod]
    public async Task AddArtifacts_StreamWithAnotherSession_IsRefused()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var session = GatewayHost.NewSessionId();

        using var artifacts = gateway.Client.AddArtifacts(Alice, cancellationToken: Cancel);
        await artifacts.RequestStream.WriteAsync(new AddArtifactsRequest { SessionId = session }, Cancel);
        // The engine holds the stream's first message before the foreign one is sent, so the test decides the order
        // (not the scheduler) and the engine's record below has one possible right content.
        Assert.IsTrue(await Polling.EventuallyAsync(() => engine.Calls is [{ Requests.Count: 1 }], TimeSpan.FromSeconds(20)), "the first message reaches the engine");
        try
        {
            await artifacts.RequestStream.WriteAsync(new AddArtifactsRequest { SessionId = GatewayHost.NewSessionId() }, Cancel);
            await artifacts.RequestStream.CompleteAsync();
        }
        catch (RpcException)
        {
            // The gateway may end the call before the client finishes writing.
        }

        var failed = await Assert.ThrowsExactlyAsync<RpcException>(() => artifacts.ResponseAsync);
        Assert.AreEqual(StatusCode.InvalidArgument, failed.StatusCode);
        StringAssert.Contains(failed.Status.Detail, "must carry the stream's session_id", StringComparison.Ordinal);
        await engine.Calls.Single().Cancelled.WaitAsync(TimeSpan.FromSeconds(20), Cancel);
        var received = engine.Calls.Single().Requests;
        Assert.HasCount(1, received, "the foreign message never reaches the engine");
        Assert.AreEqual(session, AddArtifactsRequest.Parser.ParseFrom(received[0]).SessionId);
    }
}
