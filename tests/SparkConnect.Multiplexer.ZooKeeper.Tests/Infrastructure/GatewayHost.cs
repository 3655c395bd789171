using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Testing;
using Spark.Connect;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;

/// <summary>The shared <see cref="GatewayTestHost"/> with this project's generated Spark Connect client.</summary>
internal sealed class GatewayHost : IAsyncDisposable
{
    public const string AliceToken = GatewayTestHost.AliceToken;
    public const string BobToken = GatewayTestHost.BobToken;

    private readonly GatewayTestHost _host;

    private GatewayHost(GatewayTestHost host)
    {
        _host = host;
        Client = new SparkConnectService.SparkConnectServiceClient(host.Channel);
    }

    public Uri Address => _host.Address;

    public GrpcChannel Channel => _host.Channel;

    public SparkConnectService.SparkConnectServiceClient Client { get; }

    public CapturingLoggerProvider Logs => _host.Logs;

    public IServiceProvider Services => _host.Services;

    /// <summary><paramref name="services"/> runs before <c>AddSparkConnectGateway</c> (for example to register a TimeProvider).</summary>
    public static async Task<GatewayHost> StartAsync(
        Action<SparkConnectGatewayOptions> configure,
        Action<ISparkConnectGatewayBuilder>? build = null,
        Action<IServiceCollection>? services = null)
        => new(await GatewayTestHost.StartAsync(configure, build, services));

    public static Metadata Bearer(string token) => GatewayTestHost.Bearer(token);

    public static string NewSessionId() => GatewayTestHost.NewSessionId();

    public ValueTask DisposeAsync() => _host.DisposeAsync();
}
