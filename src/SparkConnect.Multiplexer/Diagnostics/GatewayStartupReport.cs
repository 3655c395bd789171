using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Configuration;
using SparkConnect.Multiplexer.Internal;

namespace SparkConnect.Multiplexer.Diagnostics;

/// <summary>
/// Says at start-up how the gateway is set up, and warns loudly when authentication is off. "Ready" is said only once
/// the host has started — listeners bound — so a port already in use never follows a "ready" line; and a gateway that
/// was registered but never mapped says so instead. Then each bound address is asked whether it speaks HTTP/2, which
/// every Spark Connect client needs, so an HTTP/1-only endpoint is named at start-up rather than by the first client.
/// </summary>
internal sealed class GatewayStartupReport(
    IOptions<SparkConnectGatewayOptions> options,
    GatewayRegistrations registrations,
    IEngineLocator locator,
    ISessionStore store,
    IHostApplicationLifetime lifetime,
    IServiceProvider services,
    ILogger<GatewayStartupReport> logger) : IHostedService
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    private Task _http2Check = Task.CompletedTask;

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
            var addresses = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
            if (addresses.Length > 0)
            {
                // Bounded by the probe's own timeout; stopping waits for it so its lines are never cut off.
                _http2Check = Task.Run(() => CheckHttp2Async(addresses, CancellationToken.None), CancellationToken.None);
            }
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _http2Check.WaitAsync(cancellationToken);

    private async Task CheckHttp2Async(string[] addresses, CancellationToken cancellationToken)
    {
        var answers = await Task.WhenAll(addresses.Select(a => Http2EndpointProbe.ProbeAsync(a, ProbeTimeout, cancellationToken)));
        var speaksHttp2 = answers.Contains(Http2EndpointProbe.Answer.Http2);
        var withoutHttp2 = addresses.Where((_, i) => answers[i] == Http2EndpointProbe.Answer.NotHttp2).ToArray();
        if (!speaksHttp2 && withoutHttp2.Length > 0)
        {
            GatewayLog.NoHttp2Endpoint(logger, string.Join(", ", withoutHttp2));
        }
        else
        {
            foreach (var address in withoutHttp2)
            {
                GatewayLog.EndpointWithoutHttp2(logger, address);
            }
        }

        GatewayLog.Http2Checked(logger, string.Join(", ", addresses.Select((a, i) => $"{a} {answers[i]}")));
    }
}
