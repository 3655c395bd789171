using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Testing;
using SparkConnect.Multiplexer.Tests.Admission;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Forwarding;

/// <summary>
/// A locator that says "wait" (an engine still starting) reaches Spark clients as google.rpc.RetryInfo with its delay;
/// a locator that says "no" carries none, so clients fail at once instead of retrying for minutes.
/// </summary>
[TestClass]
public sealed class RetryHintTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task EngineStillStarting_CarriesTheLocatorsRetryDelay()
    {
        var refused = await CallWithLocatorAsync(new EngineLocationException("The engine is still starting; retry.", StatusCode.Unavailable) { RetryAfter = TimeSpan.FromSeconds(10) });

        Assert.AreEqual(StatusCode.Unavailable, refused.StatusCode);
        Assert.AreEqual(TimeSpan.FromSeconds(10), LimitTests.RetryDelayOf(refused));
    }

    [TestMethod]
    public async Task LocatorRefusal_CarriesNoRetryInfo()
    {
        var refused = await CallWithLocatorAsync(new EngineLocationException("Not for you.", StatusCode.PermissionDenied));

        Assert.AreEqual(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.IsNull(LimitTests.RetryDelayOf(refused));
    }

    private async Task<RpcException> CallWithLocatorAsync(EngineLocationException failure)
    {
        await using var gateway = await GatewayHost.StartAsync(_ => { }, build: b =>
        {
            b.Services.AddSingleton(failure);
            b.AddEngineLocator<FailingLocator>();
        });
        return await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: TestContext.CancellationToken));
    }

    private sealed class FailingLocator(EngineLocationException failure) : IEngineLocator
    {
        public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken) => throw failure;
    }
}
