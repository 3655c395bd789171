using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Routing;

namespace SparkConnect.Multiplexer.Configuration;

/// <summary>
/// What the host registered, so validation knows which built-ins are in use. Read from the service collection itself
/// rather than from flags the builder sets, so an authenticator or locator registered directly
/// (<c>services.AddSingleton&lt;IEngineLocator, MyLocator&gt;()</c>) counts like one added through the builder.
/// </summary>
internal sealed class GatewayRegistrations(IServiceCollection services)
{
    /// <summary>How many <see cref="IAuthenticator"/>s the host registered.</summary>
    public int CustomAuthenticatorCount => Registered(typeof(IAuthenticator)).Count();

    /// <summary>Whether the engine locator in force is the host's rather than the built-in static one.</summary>
    public bool HasCustomEngineLocator
        => Registered(typeof(IEngineLocator)).LastOrDefault() is { } locator && locator.ImplementationType != typeof(StaticEngineLocator);

    /// <summary>Whether <c>MapSparkConnectGateway()</c> mapped the gateway's endpoint.</summary>
    public bool IsMapped { get; set; }

    private IEnumerable<ServiceDescriptor> Registered(Type serviceType)
        => services.Where(d => d.ServiceType == serviceType && !d.IsKeyedService);
}
