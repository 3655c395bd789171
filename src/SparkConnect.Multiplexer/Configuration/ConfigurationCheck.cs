using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Configuration;

/// <summary>
/// Runs before the options are bound and stops with every value of the section that would not bind and every key
/// that nothing binds (with the closest known key), as an
/// <see cref="OptionsValidationException"/>, so start-up (ValidateOnStart) and reloads report them like any other
/// invalid option.
/// </summary>
internal sealed class ConfigurationCheck<TOptions>(IConfiguration configuration, string path, IEnumerable<GatewayConfigurationSection> sections) : IConfigureOptions<TOptions>
    where TOptions : class
{
    public string Path => path;

    public void Configure(TOptions options)
    {
        // Sections that other packages bind (and check) are theirs; any other key nothing binds is a mistake.
        var claimed = sections.Select(s => s.Path).Where(p => !string.Equals(p, path, StringComparison.OrdinalIgnoreCase)).ToList();
        var errors = ConfigurationSchema.Check(configuration, path, typeof(TOptions), claimed);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(TOptions), errors);
        }
    }

    /// <summary>
    /// Declares that <typeparamref name="TOptions"/> binds from <paramref name="path"/> and checks it before any
    /// configure step runs, whatever the order of registration, and keeps the last good options when a reload fails.
    /// A second call for the same section does nothing.
    /// </summary>
    public static void Register(IServiceCollection services, string path)
    {
        if (services.Any(d => d.ServiceType == typeof(GatewayConfigurationSection)
                && d.ImplementationInstance is GatewayConfigurationSection s
                && string.Equals(s.Path, path, StringComparison.OrdinalIgnoreCase)
                && s.OptionsType == typeof(TOptions)))
        {
            return;
        }

        services.AddSingleton(new GatewayConfigurationSection(path, typeof(TOptions)));

        // A reload that fails the check or validation is logged and not applied: the last good options stay in force.
        services.TryAddSingleton<IOptionsMonitor<TOptions>, LastGoodOptionsMonitor<TOptions>>();

        // First of all configure steps: the binder would throw at the first bad value, or skip a bad list item.
        services.Insert(0, ServiceDescriptor.Singleton<IConfigureOptions<TOptions>>(provider =>
            provider.GetService<IConfiguration>() is { } configuration
                ? new ConfigurationCheck<TOptions>(configuration, path, provider.GetServices<GatewayConfigurationSection>())
                : new ConfigureOptions<TOptions>(null)));
    }
}
