using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Sessions;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Engines;

/// <summary>
/// <see cref="IEngineLauncherServices"/> as a third-party launcher uses it: resolved from the gateway's services, against
/// real engines on loopback.
/// </summary>
[TestClass]
public sealed class EngineLauncherServicesTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    // A gateway needs an engine configured to start; these tests never route a call to it.
    private static void WithAStaticEngine(SparkConnectGatewayOptions options)
        => options.Engines.Default = new StaticEngineOptions { Address = "http://127.0.0.1:9" };

    [TestMethod]
    public async Task Probe_AnsweringEngine_IsTrue_AndAsksAConfigCallWithTheTokenAndSessionGiven()
    {
        await using var engine = await RecordingEngine.StartAsync("starting-engine", Cancel);
        await using var gateway = await GatewayHost.StartAsync(WithAStaticEngine);
        var services = gateway.Services.GetRequiredService<IEngineLauncherServices>();
        var probeSession = Guid.NewGuid().ToString();

        var answered = await services.ProbeAsync(new EngineEndpoint("launched-1", engine.Address) { AccessToken = "engine-secret-token" }, probeSession, TimeSpan.FromSeconds(10), Cancel);

        Assert.IsTrue(answered);
        var probe = engine.CallsTo("Config").Single();
        Assert.AreEqual("Bearer engine-secret-token", probe.Headers.GetValue("authorization"));
        Assert.AreEqual(probeSession, ConfigRequest.Parser.ParseFrom(probe.Requests[0]).SessionId);
    }

    [TestMethod]
    public async Task Probe_NothingListening_IsFalse()
    {
        using var closed = new ClosedPort();
        await using var gateway = await GatewayHost.StartAsync(WithAStaticEngine);
        var services = gateway.Services.GetRequiredService<IEngineLauncherServices>();

        var answered = await services.ProbeAsync(new EngineEndpoint("launched-2", new Uri($"http://127.0.0.1:{closed.Port}")), Guid.NewGuid().ToString(), TimeSpan.FromSeconds(5), Cancel);

        Assert.IsFalse(answered);
    }

    [TestMethod]
    public async Task Probe_EngineAnsweringWithAnError_IsFalse()
    {
        await using var engine = await RecordingEngine.StartAsync("failing-engine", Cancel);
        engine.Script = (_, _, _) => throw new RpcException(new Status(StatusCode.Internal, "still starting"));
        await using var gateway = await GatewayHost.StartAsync(WithAStaticEngine);
        var services = gateway.Services.GetRequiredService<IEngineLauncherServices>();

        Assert.IsFalse(await services.ProbeAsync(new EngineEndpoint("launched-3", engine.Address), Guid.NewGuid().ToString(), TimeSpan.FromSeconds(10), Cancel));
    }

    [TestMethod]
    public async Task SessionsOutliveProcess_FollowsTheSessionStore()
    {
        await using (var inMemory = await GatewayHost.StartAsync(WithAStaticEngine))
        {
            Assert.IsFalse(inMemory.Services.GetRequiredService<IEngineLauncherServices>().SessionsOutliveProcess);
        }

        // Any store but the built-in in-memory one may keep sessions for the gateway started next.
        await using var shared = await GatewayHost.StartAsync(WithAStaticEngine, g => g.AddSessionStore(new ExternalSessionStore(new InMemorySessionStore())));
        Assert.IsTrue(shared.Services.GetRequiredService<IEngineLauncherServices>().SessionsOutliveProcess);
    }

    [TestMethod]
    public async Task WaitForDrain_WaitsForARunningCall_ThenCompletes()
    {
        await using var engine = await RecordingEngine.StartAsync("busy-engine", Cancel);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Script = async (_, _, write) =>
        {
            started.TrySetResult();
            await release.Task;
            await write(new ConfigResponse { SessionId = "s" }.ToByteArray());
        };
        await using var gateway = await GatewayHost.StartAsync(engine);
        var services = gateway.Services.GetRequiredService<IEngineLauncherServices>();
        Assert.IsTrue(services.WaitForDrainAsync(Cancel).IsCompletedSuccessfully, "no call runs yet: nothing to wait for");

        var call = gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel).ResponseAsync;
        await started.Task.WaitAsync(Cancel);
        var drained = services.WaitForDrainAsync(Cancel);
        Assert.IsFalse(drained.IsCompleted, "a call is running through the gateway");

        release.SetResult();
        await call;
        await drained.WaitAsync(TimeSpan.FromSeconds(30), Cancel);
    }
}
