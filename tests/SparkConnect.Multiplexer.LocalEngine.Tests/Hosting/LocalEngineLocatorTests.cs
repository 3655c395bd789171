using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Hosting;
using SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Hosting;

[TestClass]
public sealed class LocalEngineLocatorTests
{
    private static EngineRequest Request(string user) => new(
        new GatewayPrincipal(user),
        new EngineKey { ShareLevel = ShareLevel.User, Owner = user },
        Guid.NewGuid().ToString(),
        new Dictionary<string, string>(),
        null);

    [TestMethod]
    public async Task LocateAsync_ConcurrentFirstCalls_StartOneEnginePerKey()
    {
        await using var locator = new LocalEngineLocator(Options.Create(new LocalEngineOptions()), NullLoggerFactory.Instance);
        var calls = Enumerable.Range(0, 8).Select(_ => locator.LocateAsync(Request("alice"), CancellationToken.None).AsTask());
        var endpoints = await Task.WhenAll(calls);
        Assert.AreEqual(1, endpoints.Select(e => e.Id).Distinct().Count());
        StringAssert.StartsWith(endpoints[0].Id, "local:USER/alice/default:");
        Assert.AreEqual("127.0.0.1", endpoints[0].Address.Host);

        var bob = await locator.LocateAsync(Request("bob"), CancellationToken.None);
        Assert.AreNotEqual(endpoints[0].Address, bob.Address);
    }

    [TestMethod]
    public async Task LocateAsync_MayNotLaunch_ReturnsOnlyARunningEngine()
    {
        await using var locator = new LocalEngineLocator(Options.Create(new LocalEngineOptions()), NullLoggerFactory.Instance);

        await Assert.ThrowsExactlyAsync<EngineNotRunningException>(() => locator.LocateAsync(new EngineRequest(Request("alice").Principal, Request("alice").Key, Guid.NewGuid().ToString(), new Dictionary<string, string>(), null) { MayLaunch = false }, CancellationToken.None).AsTask());
        Assert.AreEqual(0, locator.Count, "nothing started");

        var started = await locator.LocateAsync(Request("alice"), CancellationToken.None);
        var request = Request("alice");
        var running = await locator.LocateAsync(new EngineRequest(request.Principal, request.Key, request.SessionId, request.Hints, null) { MayLaunch = false }, CancellationToken.None);
        Assert.AreEqual(started.Id, running.Id);
        Assert.AreEqual(1, locator.Count);
    }

    [TestMethod]
    public async Task Gateway_NonCreatingCallsForUnknownSession_StartNoEngineAndAnswerAsSpark()
    {
        await using var gateway = await LocalGateway.StartAsync();
        var alice = gateway.Client("alice");

        var released = await alice.Raw.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = alice.SessionId, UserContext = alice.UserContext }, alice.Headers);
        var status = await Assert.ThrowsExactlyAsync<RpcException>(() => alice.Raw.GetStatusAsync(new GetStatusRequest { SessionId = alice.SessionId, UserContext = alice.UserContext }, alice.Headers).ResponseAsync);
        var reattach = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
        {
            using var call = alice.Raw.ReattachExecute(new ReattachExecuteRequest { SessionId = alice.SessionId, UserContext = alice.UserContext, OperationId = Guid.NewGuid().ToString() }, alice.Headers);
            await call.ResponseStream.MoveNext(CancellationToken.None);
        });

        Assert.AreEqual(alice.SessionId, released.SessionId);
        foreach (var error in new[] { status, reattach })
        {
            Assert.AreEqual(StatusCode.Internal, error.StatusCode);
            var info = ErrorDetails.Read(error);
            Assert.AreEqual("org.apache.spark.SparkSQLException", info.Reason);
            Assert.AreEqual("org.apache.spark", info.Domain);
            Assert.AreEqual("INVALID_HANDLE.SESSION_NOT_FOUND", info.Metadata["errorClass"]);
            Assert.AreEqual("HY000", info.Metadata["sqlState"]);
        }

        Assert.AreEqual(0, gateway.Locator.Count, "no local engine was started");
    }

    [TestMethod]
    public async Task DisposeAsync_StopsEngines()
    {
        var locator = new LocalEngineLocator(Options.Create(new LocalEngineOptions()), NullLoggerFactory.Instance);
        var endpoint = await locator.LocateAsync(Request("carol"), CancellationToken.None);
        await locator.DisposeAsync();
        using var tcp = new System.Net.Sockets.TcpClient();
        await Assert.ThrowsExactlyAsync<System.Net.Sockets.SocketException>(() => tcp.ConnectAsync(endpoint.Address.Host, endpoint.Address.Port));
        await Assert.ThrowsExactlyAsync<ObjectDisposedException>(() => locator.LocateAsync(Request("carol"), CancellationToken.None).AsTask());
    }

    [TestMethod]
    public void Options_Invalid_ReportsEveryProblemWithFix()
    {
        var options = new LocalEngineOptions { MaxBatchBytes = 10, SparkVersion = "latest", DefaultTimeZone = "Mars/Base", MaxStreamDuration = TimeSpan.Zero };
        var errors = options.Validate();
        Assert.HasCount(4, errors);
        Assert.IsTrue(errors.Any(e => e.Contains("MaxBatchBytes", StringComparison.Ordinal) && e.Contains("at least 1024", StringComparison.Ordinal)));
        Assert.IsTrue(errors.Any(e => e.Contains("\"4.0.0\"", StringComparison.Ordinal)));
        Assert.IsEmpty(new LocalEngineOptions().Validate());
    }

    [TestMethod]
    public async Task StartAsync_InvalidOptions_Throws()
    {
        var error = await Assert.ThrowsExactlyAsync<ArgumentException>(() => LocalSparkConnectEngine.StartAsync(new LocalEngineOptions { EngineName = " " }));
        StringAssert.Contains(error.Message, "EngineName");
    }
}
