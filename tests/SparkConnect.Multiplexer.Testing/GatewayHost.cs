using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SparkConnect.Multiplexer.TestEngine;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Testing;

/// <summary>
/// A real gateway for tests: Kestrel on a free loopback port (HTTP/2 cleartext), alice and bob as token users
/// (alice in group eng), health probing off (probes would show up as engine calls), a short drain, and a gRPC
/// channel and the generated Spark Connect client to it.
/// </summary>
public sealed class GatewayHost : IAsyncDisposable
{
    public const string AliceToken = "alice-token-0123456789abcdef";
    public const string BobToken = "bob-token-0123456789abcdef0000";

    private readonly WebApplication _app;

    private GatewayHost(WebApplication app, Uri address, CapturingLoggerProvider logs)
    {
        _app = app;
        Address = address;
        Logs = logs;
        Channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { MaxReceiveMessageSize = null, MaxSendMessageSize = null });
        Client = new SparkConnectService.SparkConnectServiceClient(Channel);
    }

    public Uri Address { get; }

    public GrpcChannel Channel { get; }

    public SparkConnectService.SparkConnectServiceClient Client { get; }

    public CapturingLoggerProvider Logs { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a gateway.</summary>
    /// <param name="configure">Gateway options, applied after the defaults above.</param>
    /// <param name="build">Builder calls (authenticators, locators, stores).</param>
    /// <param name="services">Runs before <c>AddSparkConnectGateway</c>, e.g. to register a TimeProvider.</param>
    /// <param name="protocols">What the port speaks; HTTP/2 cleartext unless a test needs HTTP/1.1 too.</param>
    /// <param name="map">Maps more endpoints after the gateway's (for example the management endpoint).</param>
    public static async Task<GatewayHost> StartAsync(
        Action<SparkConnectGatewayOptions> configure,
        Action<ISparkConnectGatewayBuilder>? build = null,
        Action<IServiceCollection>? services = null,
        HttpProtocols protocols = HttpProtocols.Http2,
        Action<Microsoft.AspNetCore.Routing.IEndpointRouteBuilder>? map = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        var logs = new CapturingLoggerProvider();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Information);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = protocols));
        services?.Invoke(builder.Services);
        var gateway = builder.Services.AddSparkConnectGateway(o =>
        {
            o.Health.ProbeInterval = TimeSpan.Zero;
            o.DrainTimeout = TimeSpan.FromSeconds(1);
            var alice = new StaticTokenOptions { Token = AliceToken, User = "alice" };
            alice.Groups.Add("eng");
            o.Authentication.Tokens.Add(alice);
            o.Authentication.Tokens.Add(new StaticTokenOptions { Token = BobToken, User = "bob" });
            configure(o);
        });
        build?.Invoke(gateway);
        var app = builder.Build();
        app.MapSparkConnectGateway();
        map?.Invoke(app);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new GatewayHost(app, new Uri(address), logs);
    }

    /// <summary>Starts a gateway whose default engine is <paramref name="engine"/>.</summary>
    public static Task<GatewayHost> StartAsync(RecordingEngine engine, Action<SparkConnectGatewayOptions>? configure = null)
        => StartAsync(o =>
        {
            o.Engines.Default = new StaticEngineOptions { Address = engine.Address.ToString() };
            configure?.Invoke(o);
        });

    public static Metadata Bearer(string token) => new() { { "authorization", "Bearer " + token } };

    public static string NewSessionId() => Guid.NewGuid().ToString();

    /// <summary>Stops the host as a SIGTERM does (drain, then Kestrel's shutdown), leaving the client channel open.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => _app.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }
}
