using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer;
using SparkConnect.Multiplexer.ZooKeeper;
using SparkConnect.Multiplexer.ZooKeeper.Client;
using SparkConnect.Multiplexer.ZooKeeper.Discovery;
using SparkConnect.Multiplexer.ZooKeeper.Health;
using SparkConnect.Multiplexer.ZooKeeper.Registration;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Adds Apache ZooKeeper to the gateway: engine discovery the Apache Kyuubi way, launches coordinated across gateway
/// replicas, and gateway registration. Options come from the <c>SparkConnectGateway:ZooKeeper</c> configuration
/// section, then the delegate, and are validated at start-up. Needs the ZooKeeper C client library
/// (<c>libzookeeper-mt2</c> on Debian/Ubuntu, <c>zookeeper-native</c> on RHEL, <c>brew install zookeeper</c> on macOS).
/// </summary>
public static class ZooKeeperGatewayBuilderExtensions
{
    /// <summary>
    /// Replaces the engine locator with one that finds engines registered in ZooKeeper (Kyuubi's engine spaces, with a
    /// <c>sparkConnectPort</c> or <c>sparkConnectUri</c> attribute). Called after <c>AddProcessEngines()</c>, it also
    /// launches an engine when none is registered, under a ZooKeeper lock per engine key so that one replica launches
    /// it, and registers it for the others. Also registers this gateway (see <see cref="ZooKeeperOptions.RegisterGateway"/>).
    /// </summary>
    /// <param name="builder">The gateway builder from <c>AddSparkConnectGateway()</c>.</param>
    /// <param name="configure">Changes the options after configuration is bound; optional.</param>
    /// <returns>The builder.</returns>
    public static ISparkConnectGatewayBuilder AddZooKeeperEngines(this ISparkConnectGatewayBuilder builder, Action<ZooKeeperOptions>? configure = null)
    {
        AddZooKeeperDiscovery(builder, configure);
        builder.Services.TryAddSingleton<ZooKeeperEnginesMarker>();
        builder.Services.TryAddSingleton<EngineSpaces>();
        builder.Services.TryAddSingleton<EngineUseMarkers>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IRemoteEngineUse, EngineUseMarkers>(static sp => sp.GetRequiredService<EngineUseMarkers>()));
        return builder.AddEngineLocator<ZooKeeperEngineLocator>();
    }

    /// <summary>
    /// Registers this gateway in ZooKeeper (an ephemeral-sequential <c>serverUri=host:port;version=V;sequence=N</c>
    /// node under <see cref="ZooKeeperOptions.GatewayNamespace"/>), so clients and load balancers find the live
    /// gateways; keeps the current engine locator.
    /// </summary>
    /// <param name="builder">The gateway builder from <c>AddSparkConnectGateway()</c>.</param>
    /// <param name="configure">Changes the options after configuration is bound; optional.</param>
    /// <returns>The builder.</returns>
    public static ISparkConnectGatewayBuilder AddZooKeeperDiscovery(this ISparkConnectGatewayBuilder builder, Action<ZooKeeperOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var options = services.AddOptions<ZooKeeperOptions>();

        // Registered once; a second call only adds its delegate.
        if (!services.Any(d => d.ServiceType == typeof(ZooKeeperClient)))
        {
            builder.AddConfigurationSection<ZooKeeperOptions>(ZooKeeperOptions.SectionName);
            options.BindConfiguration(ZooKeeperOptions.SectionName).ValidateOnStart();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ZooKeeperOptions>, ZooKeeperOptionsValidator>());
            services.TryAddSingleton(static sp =>
            {
                var settings = sp.GetRequiredService<IOptions<ZooKeeperOptions>>().Value;
                return new ZooKeeperClient(settings.ConnectionString, settings.SessionTimeout, settings.NativeLibraryPath, sp.GetRequiredService<ILogger<ZooKeeperClient>>());
            });
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ZooKeeperConnectionService>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, GatewayRegistrationService>());
            services.AddHealthChecks().AddCheck<ZooKeeperHealthCheck>(ZooKeeperHealthCheck.Name);
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        return builder;
    }
}
