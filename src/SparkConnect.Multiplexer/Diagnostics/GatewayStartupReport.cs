using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Configuration;

namespace SparkConnect.Multiplexer.Diagnostics;

/// <summary>
/// Says at start-up how the gateway is set up, and warns loudly when authentication is off. "Ready" is said only once
/// the host has started — listeners bound — so a port already in use never follows a "ready" line; and a gateway that
/// was registered but never mapped says so instead.
/// </summary>
internal sealed class GatewayStartupReport(
    IOptions<SparkConnectGatewayOptions> options,
    GatewayRegistrations registrations,
    IEngineLocator locator,
    ISessionStore store,
    IHostApplicationLifetime lifetime,
    ILogger<GatewayStartupReport> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var value = options.Value;
        if (value.Authentication.Mode == GatewayAuthenticationMode.None)
        {
            GatewayLog.AuthenticationDisabled(logger);
        }

        lifetime.ApplicationStarted.Register(() =>
        {
            if (!registrations.IsMapped)
            {
                GatewayLog.NotMapped(logger);
                return;
            }

            GatewayLog.Ready(logger, value.DefaultShareLevel, value.Authentication.Tokens.Count, registrations.CustomAuthenticatorCount, locator.GetType().Name, store.GetType().Name);
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
