using Microsoft.Extensions.DependencyInjection.Extensions;
using SparkConnect.Multiplexer;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Replaces or extends the gateway's pluggable parts.</summary>
public static class SparkConnectGatewayBuilderExtensions
{
    /// <summary>
    /// Adds an authenticator to the chain. Authenticators are asked in the order they are added, after the built-in
    /// static tokens (which only ever accept an exact token); the first that recognises a credential decides.
    /// </summary>
    public static ISparkConnectGatewayBuilder AddAuthenticator<TAuthenticator>(this ISparkConnectGatewayBuilder builder)
        where TAuthenticator : class, IAuthenticator
    {
        ArgumentNullException.ThrowIfNull(builder);
        var before = builder.Services.Count;
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IAuthenticator, TAuthenticator>());
        if (builder.Services.Count > before)
        {
            Registrations(builder).CustomAuthenticatorCount++;
        }

        return builder;
    }

    /// <summary>Replaces the built-in static engine locator.</summary>
    public static ISparkConnectGatewayBuilder AddEngineLocator<TLocator>(this ISparkConnectGatewayBuilder builder)
        where TLocator : class, IEngineLocator
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton<IEngineLocator, TLocator>());
        Registrations(builder).HasCustomEngineLocator = true;
        return builder;
    }

    /// <summary>Replaces the built-in in-memory session store (for example with one shared by several gateway instances).</summary>
    public static ISparkConnectGatewayBuilder AddSessionStore<TStore>(this ISparkConnectGatewayBuilder builder)
        where TStore : class, ISessionStore
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton<ISessionStore, TStore>());
        return builder;
    }

    /// <summary>
    /// Declares that <typeparamref name="TOptions"/> binds from the configuration section <paramref name="sectionPath"/>,
    /// for example <c>SparkConnectGateway:MyAuthenticator</c>. Before the options are bound, at start-up and on every
    /// reload, each value of the section that would not bind (a misspelt enum value, <c>10min</c> for a duration, a
    /// bad list item the binder would skip) is reported with its key and the valid values, and the section counts as
    /// known under <c>SparkConnectGateway</c> rather than as a misspelt key.
    /// </summary>
    /// <typeparam name="TOptions">The options type the section binds to.</typeparam>
    /// <param name="builder">The gateway builder.</param>
    /// <param name="sectionPath">The full configuration path of the section, <c>:</c>-separated.</param>
    /// <returns>The builder.</returns>
    public static ISparkConnectGatewayBuilder AddConfigurationSection<TOptions>(this ISparkConnectGatewayBuilder builder, string sectionPath)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(sectionPath);
        SparkConnect.Multiplexer.Configuration.ConfigurationCheck<TOptions>.Register(builder.Services, sectionPath);
        return builder;
    }

    private static SparkConnect.Multiplexer.Configuration.GatewayRegistrations Registrations(ISparkConnectGatewayBuilder builder)
        => builder is SparkConnectGatewayBuilder own
            ? own.Registrations
            : throw new ArgumentException("Use the builder returned by AddSparkConnectGateway().", nameof(builder));
}
