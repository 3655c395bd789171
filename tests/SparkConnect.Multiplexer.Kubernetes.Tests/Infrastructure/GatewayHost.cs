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
using Spark.Connect;

namespace SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;

/// <summary>A real gateway: Kestrel on a free loopback port (HTTP/2 cleartext) and a gRPC channel to it.</summary>
internal sealed class GatewayHost : IAsyncDisposable
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

    /// <summary>
    /// Starts a gateway with alice and bob as token users (alice in group eng), plus the given configuration.
    /// <paramref name="services"/> runs before <c>AddSparkConnectGateway</c> (for example to register a TimeProvider).
    /// </summary>
    public static async Task<GatewayHost> StartAsync(
        Action<SparkConnectGatewayOptions> configure,
        Action<ISparkConnectGatewayBuilder>? build = null,
        Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        var logs = new CapturingLoggerProvider();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Information);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        services?.Invoke(builder.Services);
        var gateway = builder.Services.AddSparkConnectGateway(o =>
        {
            var alice = new StaticTokenOptions { Token = AliceToken, User = "alice" };
            alice.Groups.Add("eng");
            o.Authentication.Tokens.Add(alice);
            o.Authentication.Tokens.Add(new StaticTokenOptions { Token = BobToken, User = "bob" });
            configure(o);
        });
        build?.Invoke(gateway);
        var app = builder.Build();
        app.MapSparkConnectGateway();
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

    public static Metadata Bearer(string token) => new() { { "authorization", "Bearer " + token } };

    public static string NewSessionId() => Guid.NewGuid().ToString();

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
