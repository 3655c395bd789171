using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer;
using SparkConnect.Multiplexer.Redis;
using SparkConnect.Multiplexer.Redis.Sessions;
using SparkConnect.Multiplexer.Admission;
using SparkConnect.Multiplexer.Sessions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Redis to the gateway. Options come from <c>SparkConnectGateway:Redis</c>, then the delegate, and are validated at start-up.</summary>
public static class RedisGatewayBuilderExtensions
{
    /// <summary>
    /// Keeps sessions in Redis instead of in the gateway's memory, so every replica behind a load balancer knows each
    /// session's owner and engine: a session id claimed on one replica is refused to another user on all of them, and
    /// calls of one session reach the same engine whichever replica serves them. The gateway's gRPC health service
    /// reports NOT_SERVING while Redis cannot be reached.
    /// </summary>
    /// <param name="builder">The gateway builder from <c>AddSparkConnectGateway()</c>.</param>
    /// <param name="configure">Changes the options after configuration is bound; optional.</param>
    /// <returns>The builder.</returns>
    public static ISparkConnectGatewayBuilder AddRedisSessionStore(this ISparkConnectGatewayBuilder builder, Action<RedisSessionStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<RedisSessionStoreOptions>();
        if (!builder.Services.Any(d => d.ServiceType == typeof(IValidateOptions<RedisSessionStoreOptions>)))
        {
            builder.AddConfigurationSection<RedisSessionStoreOptions>(RedisSessionStoreOptions.SectionName);
            options.BindConfiguration(RedisSessionStoreOptions.SectionName).ValidateOnStart();
            builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisSessionStoreOptions>, RedisSessionStoreOptionsValidator>());

            // Part of the gateway's gRPC health: NOT_SERVING while Redis is out of reach.
            builder.Services.AddHealthChecks().AddCheck<RedisSessionStoreHealthCheck>(RedisSessionStoreHealthCheck.Name);

            // Limits shared across replicas (RedisSessionStoreOptions.ShareLimits) come from the store itself, so they
            // count the sessions it holds; a host that replaces the store gets per-replica limits again.
            builder.Services.Replace(ServiceDescriptor.Singleton<ISharedLimits, RedisSharedLimits>());
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        return builder.AddSessionStore<RedisSessionStore>();
    }
}
