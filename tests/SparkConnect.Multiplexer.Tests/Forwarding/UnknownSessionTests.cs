using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Spark.Connect;
using SparkConnect.Multiplexer.Protocol;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;
using SparkConnect.Multiplexer.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.Tests.Forwarding;

/// <summary>
/// Calls that cannot create a Spark session never make a launching locator launch an engine for a session the
/// gateway does not know; the gateway answers them as Spark does, and still routes them to an engine that runs.
/// </summary>
[TestClass]
public sealed class UnknownSessionTests
{
    private static readonly EngineKey AliceKey = new() { ShareLevel = ShareLevel.User, Owner = "alice" };

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public void MayCreateSession_FollowsSparksHandlers()
    {
        // getOrCreateIsolatedSession in Spark's handlers: these create a session.
        foreach (var name in new[] { "ExecutePlan", "AnalyzePlan", "Config", "AddArtifacts", "ArtifactStatus", "Interrupt", "FetchErrorDetails" })
        {
            Assert.IsTrue(SparkConnectMethods.All[name].MayCreateSession, name);
        }

        // getIsolatedSession / getIsolatedSessionIfPresent: these never do.
        foreach (var name in new[] { "ReattachExecute", "ReleaseExecute", "ReleaseSession", "CloneSession", "GetStatus" })
        {
            Assert.IsFalse(SparkConnectMethods.All[name].MayCreateSession, name);
        }

        Assert.IsTrue(SparkConnectMethods.Resolve("/spark.connect.SparkConnectService/SomeFutureMethod")!.MayCreateSession);
    }

    [TestMethod]
    public async Task ReleaseSession_UnknownSessionNoEngine_LaunchesNothingAndSucceedsWithoutClaiming()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var engines = new LaunchedEngines(engine.Address);
        await using var gateway = await GatewayHost.StartAsync(_ => { }, g => g.UseLaunchCountingLocator(engines));
        var session = GatewayHost.NewSessionId();

        var response = await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = session }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel);

        Assert.AreEqual(session, response.SessionId);
        Assert.AreEqual("", response.ServerSideSessionId, "Spark sets it only for a session it has");
        Assert.AreEqual(0, engines.Launches);
        Assert.IsFalse(engines.Requests.Single().MayLaunch);
        Assert.IsEmpty(engine.Calls);
        Assert.IsNull(await gateway.Services.GetRequiredService<ISessionStore>().GetAsync(session, Cancel), "the id is not claimed");
    }

    [TestMethod]
    public async Task NonCreatingCalls_UnknownSessionNoEngine_LaunchNothingAndFailAsSparkDoes()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var engines = new LaunchedEngines(engine.Address);
        await using var gateway = await GatewayHost.StartAsync(_ => { }, g => g.UseLaunchCountingLocator(engines));
        var headers = GatewayHost.Bearer(GatewayHost.AliceToken);
        var calls = new (string Method, Func<string, Task> Call)[]
        {
            ("ReattachExecute", async s =>
            {
                using var call = gateway.Client.ReattachExecute(new ReattachExecuteRequest { SessionId = s, OperationId = Guid.NewGuid().ToString() }, headers, cancellationToken: Cancel);
                await call.ResponseStream.MoveNext(Cancel);
            }),
            ("ReleaseExecute", s => gateway.Client.ReleaseExecuteAsync(new ReleaseExecuteRequest { SessionId = s, OperationId = Guid.NewGuid().ToString(), ReleaseAll = new() }, headers, cancellationToken: Cancel).ResponseAsync),
            ("GetStatus", s => gateway.Client.GetStatusAsync(new GetStatusRequest { SessionId = s }, headers, cancellationToken: Cancel).ResponseAsync),
            ("CloneSession", s => gateway.Client.CloneSessionAsync(new CloneSessionRequest { SessionId = s, NewSessionId = Guid.NewGuid().ToString() }, headers, cancellationToken: Cancel).ResponseAsync),
        };

        foreach (var (method, call) in calls)
        {
            var session = GatewayHost.NewSessionId();
            var error = await Assert.ThrowsExactlyAsync<RpcException>(() => call(session), method);

            Assert.AreEqual(StatusCode.Internal, error.StatusCode, method);
            Assert.AreEqual($"[INVALID_HANDLE.SESSION_NOT_FOUND] The handle {session} is invalid. Session not found. SQLSTATE: HY000", error.Status.Detail, method);
            var details = SparkStatus.Read(error.Trailers.GetValueBytes("grpc-status-details-bin") ?? throw new AssertFailedException(method + ": no grpc-status-details-bin"));
            Assert.AreEqual(13, details.Code, method);
            Assert.AreEqual(error.Status.Detail, details.Message, method);
            Assert.AreEqual("type.googleapis.com/google.rpc.ErrorInfo", details.TypeUrl, method);
            Assert.AreEqual("org.apache.spark.SparkSQLException", details.Reason, method);
            Assert.AreEqual("org.apache.spark", details.Domain, method);
            Assert.AreEqual("INVALID_HANDLE.SESSION_NOT_FOUND", details.Metadata["errorClass"], method);
            Assert.AreEqual("HY000", details.Metadata["sqlState"], method);
            Assert.AreEqual($"{{\"handle\":\"{session}\"}}", details.Metadata["messageParameters"], method);
            StringAssert.StartsWith(details.Metadata["classes"], "[\"org.apache.spark.SparkSQLException\",\"java.sql.SQLException\"", method);
            Assert.IsFalse(details.Metadata.ContainsKey("errorId"), method + ": no session to fetch details from");
            Assert.IsNull(await gateway.Services.GetRequiredService<ISessionStore>().GetAsync(session, Cancel), method + ": the id is not claimed");
        }

        Assert.AreEqual(0, engines.Launches);
        Assert.AreEqual(calls.Length, engines.Requests.Count);
        Assert.IsTrue(engines.Requests.All(r => !r.MayLaunch));
        Assert.IsEmpty(engine.Calls);

        // Nothing was claimed: another user may still open a session with one of those ids.
        var reused = GatewayHost.NewSessionId();
        await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.Client.GetStatusAsync(new GetStatusRequest { SessionId = reused }, headers, cancellationToken: Cancel).ResponseAsync);
        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = reused }, GatewayHost.Bearer(GatewayHost.BobToken), cancellationToken: Cancel);
    }

    [TestMethod]
    public async Task CreatingCalls_UnknownSession_StillLaunch()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var engines = new LaunchedEngines(engine.Address);
        await using var gateway = await GatewayHost.StartAsync(_ => { }, g => g.UseLaunchCountingLocator(engines));
        var headers = GatewayHost.Bearer(GatewayHost.AliceToken);
        var session = GatewayHost.NewSessionId();

        using (var call = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = session, Plan = new Plan() }, headers, cancellationToken: Cancel))
        {
            while (await call.ResponseStream.MoveNext(Cancel))
            {
            }
        }

        // Spark's Interrupt creates the session too; here it is the one ExecutePlan made, on the launched engine.
        await gateway.Client.InterruptAsync(new InterruptRequest { SessionId = session, InterruptType = InterruptRequest.Types.InterruptType.All }, headers, cancellationToken: Cancel);

        Assert.AreEqual(1, engines.Launches);
        Assert.IsTrue(engines.Requests.Single().MayLaunch);
        Assert.HasCount(1, engine.CallsTo("ExecutePlan"));
        Assert.HasCount(1, engine.CallsTo("Interrupt"));
        Assert.IsNotNull(await gateway.Services.GetRequiredService<ISessionStore>().GetAsync(session, Cancel));
    }

    [TestMethod]
    public async Task NonCreatingCalls_EngineRunsForKey_AreRoutedToItAfterGatewayRestart()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var engines = new LaunchedEngines(engine.Address);

        // The engine was launched before this gateway (with an in-memory store) restarted: the store is empty.
        engines.Running[AliceKey] = new EngineEndpoint("launched:before-restart", engine.Address);
        await using var gateway = await GatewayHost.StartAsync(_ => { }, g => g.UseLaunchCountingLocator(engines));
        var headers = GatewayHost.Bearer(GatewayHost.AliceToken);
        var session = GatewayHost.NewSessionId();

        using (var call = gateway.Client.ReattachExecute(new ReattachExecuteRequest { SessionId = session, OperationId = Guid.NewGuid().ToString() }, headers, cancellationToken: Cancel))
        {
            while (await call.ResponseStream.MoveNext(Cancel))
            {
            }
        }

        var released = await gateway.Client.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = session }, headers, cancellationToken: Cancel);

        Assert.AreEqual(0, engines.Launches);
        Assert.HasCount(1, engine.CallsTo("ReattachExecute"));
        Assert.HasCount(1, engine.CallsTo("ReleaseSession"));
        Assert.AreEqual("engine-a", released.ServerSideSessionId, "the engine's own answer");
        Assert.IsNull(await gateway.Services.GetRequiredService<ISessionStore>().GetAsync(session, Cancel), "released");
    }

    [TestMethod]
    public async Task BoundSession_EngineUnknownHereAndNotRunning_IsReportedLostWithoutLaunching()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var engines = new LaunchedEngines(engine.Address);
        await using var gateway = await GatewayHost.StartAsync(_ => { }, g => g.UseLaunchCountingLocator(engines));
        var session = GatewayHost.NewSessionId();

        // Bound by another gateway instance (a shared store) to an engine that has since gone.
        var now = DateTimeOffset.UtcNow;
        await gateway.Services.GetRequiredService<ISessionStore>().ClaimAsync(
            new SessionRecord { SessionId = session, Owner = "alice", EngineKey = AliceKey, EngineId = "launched:gone", EngineAddress = engine.Address, CreatedAt = now, LastActivity = now }, Cancel);

        var error = await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel).ResponseAsync);

        Assert.AreEqual(StatusCode.Unavailable, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "Engine lost");
        Assert.AreEqual(0, engines.Launches, "a new engine could not hold the session: none is launched to find that out");
        Assert.IsFalse(engines.Requests.Single().MayLaunch);
        Assert.IsEmpty(engine.Calls);
    }

    /// <summary>The google.rpc.Status with one ErrorInfo, decoded by hand (the tests carry no google.rpc protos).</summary>
    private sealed record SparkStatus(int Code, string Message, string TypeUrl, string Reason, string Domain, Dictionary<string, string> Metadata)
    {
        public static SparkStatus Read(byte[] bytes)
        {
            int code = 0;
            string message = "", typeUrl = "", reason = "", domain = "";
            var metadata = new Dictionary<string, string>();
            var status = new CodedInputStream(bytes);
            for (uint tag; (tag = status.ReadTag()) != 0;)
            {
                switch (WireFormat.GetTagFieldNumber(tag))
                {
                    case 1: code = status.ReadInt32(); break;
                    case 2: message = status.ReadString(); break;
                    case 3:
                        var any = new CodedInputStream(status.ReadBytes().ToByteArray());
                        for (uint anyTag; (anyTag = any.ReadTag()) != 0;)
                        {
                            if (WireFormat.GetTagFieldNumber(anyTag) == 1)
                            {
                                typeUrl = any.ReadString();
                                continue;
                            }

                            var info = new CodedInputStream(any.ReadBytes().ToByteArray());
                            for (uint infoTag; (infoTag = info.ReadTag()) != 0;)
                            {
                                switch (WireFormat.GetTagFieldNumber(infoTag))
                                {
                                    case 1: reason = info.ReadString(); break;
                                    case 2: domain = info.ReadString(); break;
                                    default:
                                        var entry = new CodedInputStream(info.ReadBytes().ToByteArray());
                                        string key = "", value = "";
                                        for (uint entryTag; (entryTag = entry.ReadTag()) != 0;)
                                        {
                                            if (WireFormat.GetTagFieldNumber(entryTag) == 1)
                                            {
                                                key = entry.ReadString();
                                            }
                                            else
                                            {
                                                value = entry.ReadString();
                                            }
                                        }

                                        metadata[key] = value;
                                        break;
                                }
                            }
                        }

                        break;
                    default: status.SkipLastField(); break;
                }
            }

            return new SparkStatus(code, message, typeUrl, reason, domain, metadata);
        }
    }
}
