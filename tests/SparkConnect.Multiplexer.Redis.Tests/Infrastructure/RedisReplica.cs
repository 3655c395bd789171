using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Redis.Tests.Infrastructure;

/// <summary>One gateway replica of several sharing a Redis store: static engine, the store under a test's key prefix.</summary>
internal static class RedisReplica
{
    public static Task<GatewayHost> StartAsync(
        string configuration,
        RecordingEngine engine,
        string prefix,
        Action<SparkConnectGatewayOptions>? gateway = null,
        Action<RedisSessionStoreOptions>? store = null,
        Action<ISparkConnectGatewayBuilder>? build = null,
        Action<IServiceCollection>? services = null,
        Action<Microsoft.AspNetCore.Routing.IEndpointRouteBuilder>? map = null)
        => GatewayHost.StartAsync(
            o =>
            {
                o.Engines.Default = new StaticEngineOptions { Address = engine.Address.ToString() };
                gateway?.Invoke(o);
            },
            g =>
            {
                g.AddRedisSessionStore(o =>
                {
                    o.Configuration = configuration;
                    o.KeyPrefix = prefix;
                    store?.Invoke(o);
                });
                build?.Invoke(g);
            },
            services,
            map: map);
}
