using Microsoft.Extensions.DependencyInjection.Extensions;
using SparkConnect.Multiplexer;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Replaces or extends the gateway's pluggable parts.</summary>
public static class SparkConnectGatewayBuilderExtensions
{
    /// <summary>
    /// Adds an authenticator to the chain. Authenticators are asked in the order they are added, after the built-in
    /// static tokens (which only ever accept an exact token); the first that recognises a credential decides.
    /// Adding the same type twice adds it once.
    /// </summary>
    public static ISparkConnectGatewayBuilder AddAuthenticator<TAuthenticator>(this ISparkConnectGatewayBuilder builder)
        where TAuthenticator : class, IAuthenticator
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IAuthenticator, TAuthenticator>());
        return builder;
    }

    /// <summary>
    /// Adds an authenticator instance to the chain (see <see cref="AddAuthenticator{TAuthenticator}"/> for the order).
    /// The host owns the instance: the gateway does not dispose it.
    /// </summary>
    public static ISparkConnectGatewayBuilder AddAuthenticator(this ISparkConnectGatewayBuilder builder, IAuthenticator authenticator)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(authenticator);
        builder.Services.AddSingleton(authenticator);
        return builder;
    }

    /// <summary>
    /// Adds an authenticator made by <paramref name="factory"/> when the gateway starts (see
    /// <see cref="AddAuthenticator{TAuthenticator}"/> for the order); it is disposed with the host.
    /// </summary>
    public static ISparkConnectGatewayBuilder AddAuthenticator(this ISparkConnectGatewayBuilder builder, Func<IServiceProvider, IAuthenticator> factory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.AddSingleton(factory);
        return builder;
    }

    /// <summary>
    /// Replaces the built-in static engine locator. Registering an <see cref="IEngineLocator"/> directly on the
    /// service collection after <c>AddSparkConnectGateway()</c> does the same.
    /// </summary>
    public static ISparkConnectGatewayBuilder AddEngineLocator<TLocator>(this ISparkConnectGatewayBuilder builder)
        where TLocator : class, IEngineLocator
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton<IEngineLocator, TLocator>());
        return builder;
    }

    /// <summary>Replaces the built-in static engine locator with an instance the host owns (the gateway does not dispose it).</summary>
    public static ISparkConnectGatewayBuilder AddEngineLocator(this ISparkConnectGatewayBuilder builder, IEngineLocator locator)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(locator);
        builder.Services.Replace(ServiceDescriptor.Singleton(locator));
        return builder;
    }

    /// <summary>Replaces the built-in static engine locator with one made by <paramref name="factory"/>; it is disposed with the host.</summary>
    public static ISparkConnectGatewayBuilder AddEngineLocator(this ISparkConnectGatewayBuilder builder, Func<IServiceProvider, IEngineLocator> factory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.Replace(ServiceDescriptor.Singleton(factory));
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

    /// <summary>Replaces the built-in in-memory session store with an instance the host owns (the gateway does not dispose it).</summary>
    public static ISparkConnectGatewayBuilder AddSessionStore(this ISparkConnectGatewayBuilder builder, ISessionStore store)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(store);
        builder.Services.Replace(ServiceDescriptor.Singleton(store));
        return builder;
    }

    /// <summary>Replaces the built-in in-memory session store with one made by <paramref name="factory"/>; it is disposed with the host.</summary>
    public static ISparkConnectGatewayBuilder AddSessionStore(this ISparkConnectGatewayBuilder builder, Func<IServiceProvider, ISessionStore> factory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.Replace(ServiceDescriptor.Singleton(factory));
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
}
