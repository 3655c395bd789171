using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer;
using SparkConnect.Multiplexer.Processes;
using SparkConnect.Multiplexer.Processes.Internal;
using SparkConnect.Multiplexer.Processes.Launching;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the launching engine locator.</summary>
public static class ProcessEngineGatewayBuilderExtensions
{
    /// <summary>
    /// Replaces the engine locator with one that launches an engine process per engine key when none is running
    /// (for example <c>start-connect-server.sh</c> or <c>spark-submit</c>), waits until it answers, and stops it when
    /// idle and when the host stops. Options come from the <c>SparkConnectGateway:ProcessEngines</c> configuration
    /// section, then <paramref name="configure"/>, and are validated at start-up.
    /// </summary>
    /// <param name="builder">The gateway builder.</param>
    /// <param name="configure">Changes the options after configuration is bound; optional.</param>
    /// <returns>The builder.</returns>
    public static ISparkConnectGatewayBuilder AddProcessEngines(this ISparkConnectGatewayBuilder builder, Action<ProcessEngineOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var options = services.AddOptions<ProcessEngineOptions>();

        // A second call only adds its configure delegate.
        if (!services.Any(d => d.ServiceType == typeof(ProcessEngineManager)))
        {
            // Configuration first, then the delegate: code has the last word.
            builder.AddConfigurationSection<ProcessEngineOptions>(ProcessEngineOptions.SectionName);
            options.BindConfiguration(ProcessEngineOptions.SectionName).ValidateOnStart();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ProcessEngineOptions>, ProcessEngineOptionsValidator>());
            services.TryAddSingleton(TimeProvider.System);
            services.AddMetrics();
            services.TryAddSingleton<ProcessEngineMetrics>();
            services.TryAddSingleton<ProcessEngineManager>();

            // One instance, the locator and the launcher another locator (ZooKeeper) drives when it replaces this one.
            services.TryAddSingleton<ProcessEngineLocator>();
            services.TryAddSingleton<IEngineLauncher>(static sp => sp.GetRequiredService<ProcessEngineLocator>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ProcessEngineService>());
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        return builder.AddEngineLocator(static sp => sp.GetRequiredService<ProcessEngineLocator>());
    }
}
