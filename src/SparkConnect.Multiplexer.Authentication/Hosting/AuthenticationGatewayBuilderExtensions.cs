using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Authentication;
using SparkConnect.Multiplexer.Authentication.Certificates;
using SparkConnect.Multiplexer.Authentication.HostSchemes;
using SparkConnect.Multiplexer.Authentication.Jwt;
using SparkConnect.Multiplexer.Authentication.Ldap;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Adds authenticators to the gateway's chain. They are asked in the order they are added (after the built-in static
/// tokens, which only ever accept an exact token); the first that recognises a credential decides. Each binds its options from its configuration section,
/// then applies the delegate, and validates them at start-up.
/// </summary>
public static class AuthenticationGatewayBuilderExtensions
{
    /// <summary>
    /// Adds JWT / OIDC bearer tokens, options from <c>SparkConnectGateway:Authentication:Jwt</c>. Add it before
    /// <see cref="AddLdapAuthenticator"/> so a JWT is never taken for a password.
    /// </summary>
    /// <param name="builder">The gateway builder from <c>AddSparkConnectGateway()</c>.</param>
    /// <param name="configure">Changes the options after configuration is bound; optional.</param>
    /// <returns>The builder.</returns>
    public static ISparkConnectGatewayBuilder AddJwtAuthenticator(this ISparkConnectGatewayBuilder builder, Action<JwtAuthenticationOptions>? configure = null)
    {
        AddOptions<JwtAuthenticationOptions, JwtAuthenticationOptionsValidator>(builder, JwtAuthenticationOptions.SectionName, configure);
        builder.Services.AddHttpClient(JwksKeyCache.HttpClientName);
        builder.Services.TryAddSingleton<JwksKeyCache>();
        return builder.AddAuthenticator<JwtAuthenticator>();
    }

    /// <summary>
    /// Adds LDAP password authentication (bind as the user), options from <c>SparkConnectGateway:Authentication:Ldap</c>.
    /// </summary>
    /// <param name="builder">The gateway builder from <c>AddSparkConnectGateway()</c>.</param>
    /// <param name="configure">Changes the options after configuration is bound; optional.</param>
    /// <returns>The builder.</returns>
    public static ISparkConnectGatewayBuilder AddLdapAuthenticator(this ISparkConnectGatewayBuilder builder, Action<LdapAuthenticationOptions>? configure = null)
    {
        AddOptions<LdapAuthenticationOptions, LdapAuthenticationOptionsValidator>(builder, LdapAuthenticationOptions.SectionName, configure);
        return builder.AddAuthenticator<LdapAuthenticator>();
    }

    /// <summary>
    /// Adds client certificate (mTLS) authentication, options from
    /// <c>SparkConnectGateway:Authentication:ClientCertificate</c>. Kestrel must request the certificate
    /// (<c>ClientCertificateMode.AllowCertificate</c>) and accept it at the TLS layer
    /// (<c>ClientCertificateValidation = (_, _, _) =&gt; true</c>): this authenticator validates it.
    /// </summary>
    /// <param name="builder">The gateway builder from <c>AddSparkConnectGateway()</c>.</param>
    /// <param name="configure">Changes the options after configuration is bound; optional.</param>
    /// <returns>The builder.</returns>
    public static ISparkConnectGatewayBuilder AddClientCertificateAuthenticator(this ISparkConnectGatewayBuilder builder, Action<ClientCertificateAuthenticationOptions>? configure = null)
    {
        AddOptions<ClientCertificateAuthenticationOptions, ClientCertificateAuthenticationOptionsValidator>(builder, ClientCertificateAuthenticationOptions.SectionName, configure);
        return builder.AddAuthenticator<ClientCertificateAuthenticator>();
    }

    /// <summary>
    /// Adds the host's own ASP.NET Core authentication schemes (<c>services.AddAuthentication()...</c>), options from
    /// <c>SparkConnectGateway:Authentication:HostScheme</c>.
    /// </summary>
    /// <param name="builder">The gateway builder from <c>AddSparkConnectGateway()</c>.</param>
    /// <param name="configure">Changes the options after configuration is bound; optional.</param>
    /// <returns>The builder.</returns>
    public static ISparkConnectGatewayBuilder AddHostSchemeAuthenticator(this ISparkConnectGatewayBuilder builder, Action<HostSchemeAuthenticationOptions>? configure = null)
    {
        AddOptions<HostSchemeAuthenticationOptions, HostSchemeAuthenticationOptionsValidator>(builder, HostSchemeAuthenticationOptions.SectionName, configure);
        return builder.AddAuthenticator<HostSchemeAuthenticator>();
    }

    private static void AddOptions<TOptions, TValidator>(ISparkConnectGatewayBuilder builder, string section, Action<TOptions>? configure)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<TOptions>();

        // Registered once even when the method is called again; a second call only adds its delegate.
        if (!builder.Services.Any(d => d.ServiceType == typeof(IValidateOptions<TOptions>) && d.ImplementationType == typeof(TValidator)))
        {
            builder.AddConfigurationSection<TOptions>(section);
            options.BindConfiguration(section).ValidateOnStart();
            builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>());
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }
    }
}
