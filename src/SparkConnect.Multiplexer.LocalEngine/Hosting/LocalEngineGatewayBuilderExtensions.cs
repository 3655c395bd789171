using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.LocalEngine;
using SparkConnect.Multiplexer.LocalEngine.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds embedded local engines (DuckDB behind Spark Connect) to a Spark Connect gateway.</summary>
public static class LocalEngineGatewayBuilderExtensions
{
    /// <summary>
    /// Routes every engine key to an embedded local engine, started on a free loopback port on first use and
    /// stopped with the host. Options bind from <c>SparkConnectGateway:LocalEngine</c>, then <paramref name="configure"/>.
    /// </summary>
    /// <param name="builder">The gateway builder from <c>AddSparkConnectGateway()</c>.</param>
    /// <param name="configure">Changes the engine options after configuration binding.</param>
    /// <returns>The same builder.</returns>
    public static ISparkConnectGatewayBuilder AddLocalEngines(this ISparkConnectGatewayBuilder builder, Action<LocalEngineOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddConfigurationSection<LocalEngineOptions>(LocalEngineOptions.SectionName);
        var options = builder.Services.AddOptions<LocalEngineOptions>().BindConfiguration(LocalEngineOptions.SectionName).ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LocalEngineOptions>, LocalEngineOptionsValidator>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, LocalEngineShutdown>());
        return builder.AddEngineLocator<LocalEngineLocator>();
    }
}
