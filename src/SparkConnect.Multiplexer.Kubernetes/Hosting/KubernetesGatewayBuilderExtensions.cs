using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Kubernetes;
using SparkConnect.Multiplexer.Kubernetes.Discovery;
using SparkConnect.Multiplexer.Kubernetes.Internal;
using SparkConnect.Multiplexer.Kubernetes.Launching;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the Kubernetes engine locator.</summary>
public static class KubernetesGatewayBuilderExtensions
{
    /// <summary>
    /// Replaces the engine locator with one that routes each new session to the Running and Ready pod labelled with
    /// its engine key (found through a watch-based cache of the allowed namespaces), launches a Spark driver pod from
    /// the configured template when there is none, and deletes launched pods when idle or terminated. Options come
    /// from the <c>SparkConnectGateway:Kubernetes</c> configuration section, then <paramref name="configure"/>, and
    /// are validated at start-up.
    /// </summary>
    /// <param name="builder">The gateway builder from <c>AddSparkConnectGateway()</c>.</param>
    /// <param name="configure">Changes the options after configuration is bound; optional.</param>
    /// <returns>The builder.</returns>
    public static ISparkConnectGatewayBuilder AddKubernetesEngines(this ISparkConnectGatewayBuilder builder, Action<KubernetesEngineOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var options = services.AddOptions<KubernetesEngineOptions>();

        // A second call only adds its configure delegate.
        if (!services.Any(d => d.ServiceType == typeof(KubernetesEngineManager)))
        {
            // Configuration first, then the delegate: code has the last word.
            builder.AddConfigurationSection<KubernetesEngineOptions>(KubernetesEngineOptions.SectionName);
            options.BindConfiguration(KubernetesEngineOptions.SectionName).ValidateOnStart();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KubernetesEngineOptions>, KubernetesEngineOptionsValidator>());
            services.TryAddSingleton(TimeProvider.System);
            services.AddMetrics();
            services.TryAddSingleton<KubernetesMetrics>();
            services.TryAddSingleton(sp => InClusterConfiguration.FromEnvironment(sp.GetRequiredService<TimeProvider>()));
            services.TryAddSingleton<KubernetesClientProvider>();
            services.TryAddSingleton<EnginePodCache>();
            services.TryAddSingleton<KubernetesEngineManager>();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, KubernetesEngineService>());
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        return builder.AddEngineLocator<KubernetesEngineLocator>();
    }
}
