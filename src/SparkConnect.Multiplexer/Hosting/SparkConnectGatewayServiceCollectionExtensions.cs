using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer;
using SparkConnect.Multiplexer.Admission;
using SparkConnect.Multiplexer.Authenticators;
using SparkConnect.Multiplexer.Configuration;
using SparkConnect.Multiplexer.Diagnostics;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.Forwarding;
using SparkConnect.Multiplexer.Hosting;
using SparkConnect.Multiplexer.Internal;
using SparkConnect.Multiplexer.Management;
using SparkConnect.Multiplexer.Routing;
using SparkConnect.Multiplexer.Sessions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Spark Connect gateway.</summary>
public static class SparkConnectGatewayServiceCollectionExtensions
{
    /// <summary>
    /// Adds the gateway's services with options from the <c>SparkConnectGateway</c> configuration section,
    /// then <paramref name="configure"/>. Serve it with <c>app.MapSparkConnectGateway()</c>.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configure">Changes the options after configuration is bound; optional.</param>
    /// <returns>A builder to add authenticators or replace the engine locator and session store.</returns>
    public static ISparkConnectGatewayBuilder AddSparkConnectGateway(this IServiceCollection services, Action<SparkConnectGatewayOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);

        var options = services.AddOptions<SparkConnectGatewayOptions>();

        // A second call only adds its configure delegate: the services are registered once.
        if (services.Any(d => d.ServiceType == typeof(GatewayRegistrations)))
        {
            if (configure is not null)
            {
                options.Configure(configure);
            }

            return new SparkConnectGatewayBuilder(services);
        }

        services.AddSingleton(new GatewayRegistrations(services));

        // Configuration first, then the delegate: code has the last word. Values that would not bind stop start-up.
        ConfigurationCheck<SparkConnectGatewayOptions>.Register(services, SparkConnectGatewayOptions.SectionName);
        options.BindConfiguration(SparkConnectGatewayOptions.SectionName).ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SparkConnectGatewayOptions>, SparkConnectGatewayOptionsValidator>());

        AddDiagnostics(services);
        AddDefaults(services);
        AddForwarding(services);

        return new SparkConnectGatewayBuilder(services);
    }

    private static void AddDiagnostics(IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton<GatewayMetrics>();
        services.TryAddSingleton<GatewayAudit>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IEngineLifecycle, EngineLifecycle>();
        services.AddGrpc();
        // With no check registered the health service answers UNKNOWN. The gateway's readiness check makes it, and
        // /readyz of the management endpoint, say NOT_SERVING while shutting down, after a refused configuration
        // reload, with the session store out of reach, or with every static engine failing its probes.
        services.AddGrpcHealthChecks().AddCheck<GatewayReadinessCheck>(GatewayReadinessCheck.Name, tags: [GatewayReadinessCheck.ReadyTag]);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, EngineLossReporter>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, GatewayStartupReport>());
    }

    private static void AddDefaults(IServiceCollection services)
    {
        services.TryAddSingleton<ISessionStore, InMemorySessionStore>();
        services.TryAddSingleton<IEngineLocator, StaticEngineLocator>();
        services.TryAddSingleton<AuthenticationChain>();
        services.TryAddSingleton<AuthenticationThrottle>();
        services.TryAddSingleton<AuthorizationPolicy>();
    }

    private static void AddForwarding(IServiceCollection services)
    {
        services.TryAddSingleton<EngineChannelPool>();
        services.TryAddSingleton<EngineCaller>();
        services.TryAddSingleton<IEngineLauncherServices, EngineLauncherServices>();
        services.TryAddSingleton<EngineEndpointRegistry>();
        services.TryAddSingleton<SessionRouter>();
        services.TryAddSingleton<EngineKeyResolver>();
        services.TryAddSingleton<GatewayLimits>();
        services.TryAddSingleton<CallRateLimits>();
        services.TryAddSingleton<CallAdmission>();
        services.TryAddSingleton<ActiveCalls>();
        services.TryAddSingleton<GatewayShutdown>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SessionExpiryService>());
        services.TryAddSingleton<EngineHealthMonitor>();
        services.AddHostedService(static sp => sp.GetRequiredService<EngineHealthMonitor>());
        services.TryAddSingleton<ReleasedSessions>();
        services.TryAddSingleton<LiveDenyList>();
        services.TryAddSingleton<RecentRefusals>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, GatewayShutdownDelay>());

        // The host must wait for the drain: running streams get DrainTimeout before they are cancelled.
        services.AddOptions<HostOptions>().PostConfigure<IOptions<SparkConnectGatewayOptions>>((host, gateway) =>
        {
            TimeSpan drain;
            try
            {
                drain = gateway.Value.DrainTimeout + gateway.Value.ShutdownDelay;
            }
            catch (OptionsValidationException)
            {
                // Invalid gateway options are reported, all of them, by ValidateOnStart.
                return;
            }

            var needed = drain + TimeSpan.FromSeconds(5);
            if (host.ShutdownTimeout < needed)
            {
                host.ShutdownTimeout = needed;
            }
        });
        services.TryAddSingleton<ConfigResponseFilter>();
        services.TryAddSingleton<EngineForwarder>();
        services.TryAddSingleton<CallCompletion>();
        services.TryAddSingleton<CallPipeline>();
    }
}
