using Microsoft.Extensions.Options;
using Microsoft.Extensions.Logging.Abstractions;
using SparkConnect.Multiplexer.Redis.Sessions;
using SparkConnect.Multiplexer.Redis.Tests.Infrastructure;
using SparkConnect.Multiplexer.TestKit;

namespace SparkConnect.Multiplexer.Redis.Tests.Sessions;

/// <summary>The shared <see cref="ISessionStore"/> conformance suite against a real redis-server.</summary>
[TestClass]
public sealed class RedisSessionStoreConformanceTests : SessionStoreConformanceTests
{
    private static RedisServer s_server = null!;
    private readonly List<RedisSessionStore> _stores = [];

    [ClassInitialize]
    public static async Task StartRedisAsync(TestContext context) => s_server = await RedisServer.StartAsync();

    [ClassCleanup]
    public static async Task StopRedisAsync() => await s_server.DisposeAsync();

    [TestCleanup]
    public async Task DisposeStoresAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }
    }

    // A prefix per store: the tests share one server and must not see each other's sessions.
    protected override ISessionStore CreateStore()
    {
        var store = new RedisSessionStore(
            Options.Create(new RedisSessionStoreOptions { Configuration = s_server.SteadyConfiguration, KeyPrefix = "test-" + Guid.NewGuid().ToString("N") }),
            new OptionsMonitor<SparkConnectGatewayOptions>(new OptionsFactory<SparkConnectGatewayOptions>([], []), [], new OptionsCache<SparkConnectGatewayOptions>()),
            TimeProvider.System,
            NullLogger<RedisSessionStore>.Instance);
        _stores.Add(store);
        return store;
    }
}
