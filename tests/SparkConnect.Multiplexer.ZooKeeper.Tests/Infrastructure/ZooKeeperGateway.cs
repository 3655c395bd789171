using System.Reflection;
using System.Text;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.Processes;
using SparkConnect.Multiplexer.Processes.Launching;
using SparkConnect.Multiplexer.ZooKeeper.Client;
using Spark.Connect;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.ZooKeeper.Tests.Infrastructure;

/// <summary>
/// A real gateway with the ZooKeeper locator (and, optionally, the process launcher running the test engine host).
/// Disposing it stops the gateway and kills every process it started that is still alive.
/// </summary>
internal sealed class ZooKeeperGateway : IAsyncDisposable
{
    public const string GatewayNamespace = "/gateways";

    public static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);
    public static readonly Metadata Bob = GatewayHost.Bearer(GatewayHost.BobToken);

    private bool _disposed;
    private bool _hostStopped;

    private ZooKeeperGateway(GatewayHost host, string workRoot)
    {
        Host = host;
        WorkRoot = workRoot;
    }

    public GatewayHost Host { get; }

    public string WorkRoot { get; }

    public SparkConnectService.SparkConnectServiceClient Client => Host.Client;

    public ZooKeeperClient ZooKeeper => Host.Services.GetRequiredService<ZooKeeperClient>();

    public EngineEndpointRegistry Registry => Host.Services.GetRequiredService<EngineEndpointRegistry>();

    public ProcessEngineManager? Engines => Host.Services.GetService<ProcessEngineManager>();

    /// <summary>The built test engine host (see the project file).</summary>
    public static string TestEngineHostDll { get; } = typeof(ZooKeeperGateway).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "TestEngineHostDll").Value!;

    public static string DotNet { get; } = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
        ? host
        : "dotnet";

    public static void UseZooKeeper(ZooKeeperOptions options, ZooKeeperServer server)
    {
        options.ConnectionString = server.ConnectionString;
        options.SessionTimeout = TimeSpan.FromSeconds(4);
        options.ConnectionTimeout = TimeSpan.FromSeconds(15);
        options.GatewayNamespace = GatewayNamespace;
        options.LaunchTimeout = TimeSpan.FromSeconds(90);
    }

    /// <summary>Launches the test engine host as the engine process, in <paramref name="workRoot"/>.</summary>
    public static void UseTestEngine(ProcessEngineOptions options, string workRoot)
    {
        options.Command = DotNet;
        options.Arguments.Clear();
        foreach (var argument in new[] { TestEngineHostDll, "--port", "{port}", "--name", "{engineId}" })
        {
            options.Arguments.Add(argument);
        }

        options.InitializationTimeout = TimeSpan.FromSeconds(60);
        options.ReadinessProbeInterval = TimeSpan.FromMilliseconds(200);
        options.StopGracePeriod = TimeSpan.FromSeconds(3);
        options.WorkingDirectory = workRoot;
    }

    public static async Task<ZooKeeperGateway> StartAsync(ZooKeeperServer server, Action<ZooKeeperOptions>? configure = null, bool launch = false, Action<ProcessEngineOptions>? launcher = null, string? workRoot = null, Action<IServiceCollection>? services = null)
    {
        workRoot ??= Path.Combine(Path.GetTempPath(), "zk-gateway-tests-" + Guid.NewGuid().ToString("N")[..12]);
        var host = await GatewayHost.StartAsync(
            static _ => { },
            gateway =>
            {
                if (launch)
                {
                    gateway.AddProcessEngines(o =>
                    {
                        UseTestEngine(o, workRoot);
                        launcher?.Invoke(o);
                    });
                }

                gateway.AddZooKeeperEngines(o =>
                {
                    UseZooKeeper(o, server);
                    configure?.Invoke(o);
                });
            },
            services);
        return new ZooKeeperGateway(host, workRoot);
    }

    /// <summary>A plain client of the test's own, to register and inspect nodes.</summary>
    public static async Task<ZooKeeperClient> ConnectAsync(ZooKeeperServer server)
    {
        var client = new ZooKeeperClient(server.ConnectionString, TimeSpan.FromSeconds(10), null, NullLogger.Instance);
        try
        {
            await client.StartAsync(TimeSpan.FromSeconds(15), CancellationToken.None);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }

        return client;
    }

    /// <summary>Registers an engine node the Kyuubi way; returns its path.</summary>
    public static Task<string> RegisterEngineAsync(ZooKeeperClient client, string user, string name, string? extra = null, string subdomain = "default", string? refId = null, string? data = null)
    {
        var space = $"/kyuubi_1.10.0_USER_SPARK_SQL/{user}/{subdomain}";
        var node = $"{space}/serverUri={name};version=1.10.0;refId={refId ?? Guid.NewGuid().ToString()}{(extra is null ? "" : ";" + extra)};sequence=";
        return client.CreateAsync(node, Encoding.UTF8.GetBytes(data ?? name), ZooKeeperNative.EphemeralSequential, createParents: true, CancellationToken.None);
    }

    /// <summary>The engine id the gateway binds sessions to for a registered node.</summary>
    public static string EngineIdOf(string nodePath)
    {
        var slash = nodePath.LastIndexOf('/');
        return SparkConnect.Multiplexer.ZooKeeper.Discovery.EngineNode.Parse(nodePath[..slash], nodePath[(slash + 1)..], null).Id;
    }

    public static ConfigRequest GetAll(string sessionId) => new()
    {
        SessionId = sessionId,
        UserContext = new UserContext { UserId = "ignored" },
        Operation = new ConfigRequest.Types.Operation { GetAll = new ConfigRequest.Types.GetAll() },
    };

    public async Task<string> ServerSideSessionIdAsync(string sessionId, Metadata? who = null)
    {
        var response = await Client.ConfigAsync(GetAll(sessionId), who ?? Alice, deadline: DateTime.UtcNow.AddSeconds(90));
        return response.ServerSideSessionId;
    }

    /// <summary>
    /// Stops the gateway as an operator's restart would: what happens to its engines is the gateway's doing. The
    /// processes it started and its directory are cleaned up only when this is disposed.
    /// </summary>
    public async Task StopAsync()
    {
        if (!_hostStopped)
        {
            _hostStopped = true;
            await Host.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            await StopAsync();
        }
        finally
        {
            EngineProcesses.KillAllUnder(WorkRoot);

            try
            {
                Directory.Delete(WorkRoot, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }
}
