using System.Net;
using System.Reflection;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.ZooKeeper.Client;

namespace SparkConnect.Multiplexer.ZooKeeper.Registration;

/// <summary>
/// Registers this gateway as an ephemeral-sequential node <c>serverUri=host:port;version=V;sequence=N</c> under
/// <see cref="ZooKeeperOptions.GatewayNamespace"/> once the server listens; the client re-creates it after a session
/// expiry; it is deleted when the host stops.
/// </summary>
internal sealed class GatewayRegistrationService(
    ZooKeeperClient client,
    IOptions<ZooKeeperOptions> options,
    IHostApplicationLifetime lifetime,
    IServiceProvider services,
    ILogger<GatewayRegistrationService> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task<OwnedNode?>? _registration;
    private CancellationTokenRegistration _started;

    /// <summary>The registered node (null before registration or when disabled).</summary>
    public OwnedNode? Node => _registration is { IsCompletedSuccessfully: true } done ? done.Result : null;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.RegisterGateway)
        {
            _started = lifetime.ApplicationStarted.Register(() => _registration = Task.Run(RegisterAsync, CancellationToken.None));
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _started.DisposeAsync();
        await _stopping.CancelAsync();
        if (_registration is null)
        {
            return;
        }

        var node = await _registration;
        if (node is null)
        {
            return;
        }

        // Bounded: with ZooKeeper unreachable the node goes with the session instead.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.ConnectionTimeout);
        try
        {
            await client.RemoveOwnedAsync(node, timeout.Token);
            ZooKeeperLog.GatewayDeregistered(logger, node.CurrentPath ?? node.RequestedPath);
        }
        catch (Exception e) when (e is ZooKeeperException or OperationCanceledException or ObjectDisposedException)
        {
            // The node goes with the session when the client closes.
        }
    }

    public void Dispose() => _stopping.Dispose();

    internal static string? ListeningAddress(IServiceProvider services)
    {
        var addresses = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses;
        var first = addresses?.FirstOrDefault();
        if (first is null)
        {
            return null;
        }

        // http://[::]:15002, http://0.0.0.0:15002, http://+:15002, http://*:15002, http://localhost:15002
        var schemeEnd = first.IndexOf("://", StringComparison.Ordinal);
        var hostPort = schemeEnd >= 0 ? first[(schemeEnd + 3)..].TrimEnd('/') : first;
        var colon = hostPort.LastIndexOf(':');
        if (colon <= 0)
        {
            return null;
        }

        var host = hostPort[..colon];
        if (host is "[::]" or "0.0.0.0" or "+" or "*")
        {
            host = Dns.GetHostName();
        }

        return host + hostPort[colon..];
    }

    private async Task<OwnedNode?> RegisterAsync()
    {
        var settings = options.Value;
        try
        {
            var address = settings.AdvertisedAddress is { Length: > 0 } advertised ? advertised : ListeningAddress(services)
                ?? throw new InvalidOperationException($"The gateway's address is unknown: set {ZooKeeperOptions.SectionName}:AdvertisedAddress to host:port.");
            var version = settings.GatewayVersion is { Length: > 0 } v
                ? v
                : typeof(GatewayRegistrationService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
            var path = $"{settings.GatewayNamespace}/serverUri={address};version={version};sequence=";
            var node = await client.CreateOwnedAsync(path, Encoding.UTF8.GetBytes(address), sequential: true, _stopping.Token);
            ZooKeeperLog.GatewayRegistered(logger, node.CurrentPath ?? path);
            return node;
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception e) when (e is ZooKeeperException or InvalidOperationException)
        {
            ZooKeeperLog.GatewayRegistrationFailed(logger, e);
            return null;
        }
    }
}
