using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Routing;

[TestClass]
public sealed class EngineKeyTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task Hints_ChooseShareLevelAndSubdomain_WithinWhatIsAllowed()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var target = new EngineTarget(engine.Address);
        await using var gateway = await GatewayHost.StartAsync(_ => { }, g => g.UseKeyRecordingLocator(target));
        var connectionSession = GatewayHost.NewSessionId();

        await Call(gateway, GatewayHost.NewSessionId(), ("subdomain", "etl"));
        await Call(gateway, connectionSession, ("share_level", "connection"));
        await Call(gateway, GatewayHost.NewSessionId(), ("kyuubi.engine.share.level", "USER"), ("kyuubi.engine.share.level.subdomain", "adhoc"));
        var group = await Assert.ThrowsExactlyAsync<RpcException>(() => Call(gateway, GatewayHost.NewSessionId(), ("share_level", "GROUP")));
        var bogus = await Assert.ThrowsExactlyAsync<RpcException>(() => Call(gateway, GatewayHost.NewSessionId(), ("share_level", "everyone")));
        var badSubdomain = await Assert.ThrowsExactlyAsync<RpcException>(() => Call(gateway, GatewayHost.NewSessionId(), ("subdomain", "../etc")));

        var keys = target.Requests.Select(r => r.Key).ToArray();
        Assert.AreEqual(new EngineKey { ShareLevel = ShareLevel.User, Owner = "alice", Subdomain = "etl" }, keys[0]);
        Assert.AreEqual(new EngineKey { ShareLevel = ShareLevel.Connection, Owner = connectionSession, Subdomain = "default" }, keys[1]);
        Assert.AreEqual(new EngineKey { ShareLevel = ShareLevel.User, Owner = "alice", Subdomain = "adhoc" }, keys[2]);
        Assert.AreEqual(3, keys.Length, "refused hints never reach the locator");
        Assert.AreEqual(StatusCode.PermissionDenied, group.StatusCode);
        StringAssert.Contains(group.Status.Detail, "allowed: ");
        Assert.AreEqual(StatusCode.InvalidArgument, bogus.StatusCode);
        Assert.AreEqual(StatusCode.InvalidArgument, badSubdomain.StatusCode);
        Assert.AreEqual("etl", target.Requests.First().Hints["subdomain"], "the locator sees the hints");
    }

    [TestMethod]
    public async Task SharedLevels_WhenEnabled_UseGroupAndServerOwners()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var target = new EngineTarget(engine.Address);
        await using var gateway = await GatewayHost.StartAsync(
            o =>
            {
                o.AllowSharedEngines = true;
                o.Routing.AllowedShareLevels.Add(ShareLevel.Group);
                o.Routing.AllowedShareLevels.Add(ShareLevel.Server);
            },
            g => g.UseKeyRecordingLocator(target));

        await Call(gateway, GatewayHost.NewSessionId(), ("share_level", "GROUP"));
        await Call(gateway, GatewayHost.NewSessionId(), ("share_level", "SERVER"));

        var keys = target.Requests.Select(r => r.Key).ToArray();
        Assert.AreEqual(new EngineKey { ShareLevel = ShareLevel.Group, Owner = "eng", Subdomain = "default" }, keys[0], "alice's primary group");
        Assert.AreEqual(new EngineKey { ShareLevel = ShareLevel.Server, Owner = "server", Subdomain = "default" }, keys[1]);
    }

    [TestMethod]
    public async Task Pool_RoundRobin_SpreadsSessionsOverPoolSubdomains()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var target = new EngineTarget(engine.Address);
        await using var gateway = await GatewayHost.StartAsync(
            o =>
            {
                o.Routing.PoolSize = 3;
                o.Routing.PoolSelection = EnginePoolSelection.RoundRobin;
            },
            g => g.UseKeyRecordingLocator(target));

        for (var i = 0; i < 6; i++)
        {
            await Call(gateway, GatewayHost.NewSessionId());
        }

        await Call(gateway, GatewayHost.NewSessionId(), ("subdomain", "etl"));

        CollectionAssert.AreEqual(
            new[] { "pool-0", "pool-1", "pool-2", "pool-0", "pool-1", "pool-2", "etl" },
            target.Requests.Select(r => r.Key.Subdomain).ToArray());
    }

    private async Task Call(GatewayHost gateway, string session, params (string Name, string Value)[] hints)
    {
        var headers = GatewayHost.Bearer(GatewayHost.AliceToken);
        foreach (var (name, value) in hints)
        {
            headers.Add(name, value);
        }

        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = session }, headers, cancellationToken: Cancel);
    }
}

internal static class LocatorRegistration
{
    /// <summary>Registers the key-recording locator through the public builder API.</summary>
    public static void UseKeyRecordingLocator(this ISparkConnectGatewayBuilder builder, EngineTarget target)
    {
        builder.Services.AddSingleton(target);
        builder.AddEngineLocator<KeyRecordingLocator>();
    }
}
