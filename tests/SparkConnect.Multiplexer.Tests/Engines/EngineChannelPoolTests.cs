using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Engines;

[TestClass]
public sealed class EngineChannelPoolTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task For_SharesOneClientPerAddressAndIdentity_AndGivesAFreshOneAfterForget()
    {
        using var ca = TestCertificates.CreateCa("Pool CA");
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var pool = gateway.Services.GetRequiredService<EngineChannelPool>();
        var endpoint = new EngineEndpoint("engine-a", engine.Address);
        var sameAddress = new EngineEndpoint("engine-a", engine.Address);
        var otherIdentity = new EngineEndpoint("engine-a", engine.Address) { TrustedCertificateAuthorities = [ca] };

        // A call through the gateway first: its locator's endpoint instance now has the client cached.
        var reply = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel);
        Assert.AreEqual("engine-a", reply.ServerSideSessionId);
        Assert.AreEqual(1, pool.Count);

        var first = pool.For(endpoint);
        Assert.AreSame(first, pool.For(endpoint), "the same endpoint instance finds its client again");
        Assert.AreSame(first, pool.For(sameAddress), "another instance with the same address and identity shares it");
        Assert.AreNotSame(first, pool.For(otherIdentity), "other certificate authorities are another client");

        pool.Forget(sameAddress);
        var fresh = pool.For(endpoint);
        Assert.AreNotSame(first, fresh, "a forgotten client is not handed out again, even to an instance that found it before");
        Assert.AreSame(fresh, pool.For(sameAddress));

        // The gateway's cached instance gets the fresh client too (the forgotten one is disposed and would fail).
        reply = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel);
        Assert.AreEqual("engine-a", reply.ServerSideSessionId);
        Assert.ThrowsExactly<ObjectDisposedException>(() => first.SendAsync(new HttpRequestMessage(HttpMethod.Post, engine.Address), Cancel).GetAwaiter().GetResult());
    }
}
