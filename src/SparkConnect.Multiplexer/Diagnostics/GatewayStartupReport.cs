using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Configuration;

namespace SparkConnect.Multiplexer.Diagnostics;

/// <summary>Says at start-up how the gateway is set up, and warns loudly when authentication is off.</summary>
internal sealed class GatewayStartupReport(
    IOptions<SparkConnectGatewayOptions> options,
    GatewayRegistrations registrations,
    IEngineLocator locator,
    ISessionStore store,
    ILogger<GatewayStartupReport> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var value = options.Value;
        if (value.Authentication.Mode == GatewayAuthenticationMode.None)
        {
            GatewayLog.AuthenticationDisabled(logger);
        }

        GatewayLog.Ready(logger, value.DefaultShareLevel, value.Authentication.Tokens.Count, registrations.CustomAuthenticatorCount, locator.GetType().Name, store.GetType().Name);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
