using System.Globalization;
using Grpc.Core;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.Kubernetes.Discovery;
using SparkConnect.Multiplexer.Kubernetes.Launching;
using Spark.Connect;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;

/// <summary>
/// A real gateway with the Kubernetes locator, pointed at a stand-in API server (see
/// <see cref="StandInKubernetesApiServer"/>), with its Kubernetes meter recorded (<see cref="Metrics"/>). Disposing it
/// stops the gateway, the stand-in and every engine the test registered.
/// </summary>
internal sealed class KubernetesGateway : IAsyncDisposable
{
    public const string Namespace = "spark";
    public const string OtherNamespace = "team-b";

    public static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);
    public static readonly Metadata Bob = GatewayHost.Bearer(GatewayHost.BobToken);

    private readonly List<IAsyncDisposable> _owned = [];

    private KubernetesGateway(StandInKubernetesApiServer api, GatewayHost host)
    {
        Api = api;
        Host = host;
        Metrics = new MetricRecorder(host.Services);
    }

    public StandInKubernetesApiServer Api { get; }

    /// <summary>What the gateway's <c>SparkConnect.Multiplexer.Kubernetes</c> meter measured since it started.</summary>
    public MetricRecorder Metrics { get; }

    public GatewayHost Host { get; }

    public SparkConnectService.SparkConnectServiceClient Client => Host.Client;

    public EnginePodCache Cache => Host.Services.GetRequiredService<EnginePodCache>();

    public KubernetesEngineManager Engines => Host.Services.GetRequiredService<KubernetesEngineManager>();

    public EngineEndpointRegistry Registry => Host.Services.GetRequiredService<EngineEndpointRegistry>();

    /// <summary>Starts a gateway whose Kubernetes options point at a stand-in through <see cref="KubernetesEngineOptions.Server"/>.</summary>
    /// <param name="configure">Changes the options after the defaults above (e.g. to reach the stand-in another way).</param>
    /// <param name="services">Runs before the gateway's own registrations, so what it registers wins.</param>
    /// <param name="seed">Fills the stand-in before the gateway starts.</param>
    /// <param name="gateway">Gateway options.</param>
    /// <param name="api">A stand-in the test started itself (over TLS, say); the fixture disposes it. Default: a new HTTP one.</param>
    public static async Task<KubernetesGateway> StartAsync(
        Action<KubernetesEngineOptions>? configure = null,
        Action<IServiceCollection>? services = null,
        Action<StandInKubernetesApiServer>? seed = null,
        Action<SparkConnectGatewayOptions>? gateway = null,
        StandInKubernetesApiServer? api = null)
    {
        api ??= await StandInKubernetesApiServer.StartAsync();
        try
        {
            seed?.Invoke(api);
            var host = await GatewayHost.StartAsync(
                o => gateway?.Invoke(o),
                builder => builder.AddKubernetesEngines(o =>
                {
                    o.Server = api.Address;
                    o.Namespaces.Add(Namespace);
                    o.Namespaces.Add(OtherNamespace);
                    o.PodTemplate.Image = "apache/spark:4.0.1";
                    o.WatchRetryDelay = TimeSpan.FromMilliseconds(100);
                    o.InitializationTimeout = TimeSpan.FromSeconds(30);
                    configure?.Invoke(o);
                }),
                services);
            return new KubernetesGateway(api, host);
        }
        catch
        {
            await api.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts a real Spark Connect engine on loopback that this fixture stops at the end.</summary>
    public async Task<TestEngine.RecordingEngine> StartEngineAsync(string name)
    {
        var engine = await TestEngine.RecordingEngine.StartAsync(name);
        _owned.Add(engine);
        return engine;
    }

    /// <summary>A pod labelled with the USER engine key of <paramref name="user"/>, serving on <paramref name="port"/> (port label).</summary>
    public static V1Pod EnginePod(string name, string user, int port, string ns = Namespace, string subdomain = "default") => new()
    {
        ApiVersion = "v1",
        Kind = "Pod",
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = ns,
            Labels = new Dictionary<string, string>
            {
                ["spark-connect-multiplexer/share-level"] = "USER",
                ["spark-connect-multiplexer/owner"] = user,
                ["spark-connect-multiplexer/subdomain"] = subdomain,
                [KubernetesEngineOptions.DefaultPortLabel] = port.ToString(CultureInfo.InvariantCulture),
            },
        },
        Spec = new V1PodSpec { Containers = [new V1Container { Name = "driver", Image = "apache/spark:4.0.1" }] },
    };

    public static ConfigRequest GetAll(string sessionId) => new()
    {
        SessionId = sessionId,
        UserContext = new UserContext { UserId = "ignored" },
        Operation = new ConfigRequest.Types.Operation { GetAll = new ConfigRequest.Types.GetAll() },
    };

    public static Metadata With(Metadata metadata, string key, string value)
    {
        var copy = new Metadata();
        foreach (var entry in metadata)
        {
            copy.Add(entry);
        }

        copy.Add(key, value);
        return copy;
    }

    public async ValueTask DisposeAsync()
    {
        Metrics.Dispose();
        try
        {
            await Host.DisposeAsync();
        }
        finally
        {
            await Api.DisposeAsync();
            foreach (var owned in _owned)
            {
                await owned.DisposeAsync();
            }
        }
    }
}
