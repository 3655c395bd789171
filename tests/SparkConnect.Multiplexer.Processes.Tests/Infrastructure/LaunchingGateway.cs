using System.Diagnostics;
using System.Reflection;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.Processes.Launching;
using Spark.Connect;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Processes.Tests.Infrastructure;

/// <summary>
/// A real gateway with the launching locator, engines working in a temporary directory. Disposing it stops the
/// gateway and then kills every process it started that is still alive, whatever happened in the test.
/// </summary>
internal sealed class LaunchingGateway : IAsyncDisposable
{
    public static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);
    public static readonly Metadata Bob = GatewayHost.Bearer(GatewayHost.BobToken);

    private LaunchingGateway(GatewayHost host, string workRoot)
    {
        Host = host;
        WorkRoot = workRoot;
    }

    public GatewayHost Host { get; }

    public string WorkRoot { get; }

    public ProcessEngineManager Engines => Host.Services.GetRequiredService<ProcessEngineManager>();

    public EngineEndpointRegistry Registry => Host.Services.GetRequiredService<EngineEndpointRegistry>();

    public SparkConnectService.SparkConnectServiceClient Client => Host.Client;

    /// <summary>The built test engine host (see the project file).</summary>
    public static string TestEngineHostDll { get; } = typeof(LaunchingGateway).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "TestEngineHostDll").Value!;

    /// <summary>The dotnet executable running the tests.</summary>
    public static string DotNet { get; } = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
        ? host
        : "dotnet";

    /// <summary>Options that launch the test engine host; its responses carry the engine id as server_side_session_id.</summary>
    public static void UseTestEngine(ProcessEngineOptions options)
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
    }

    public static async Task<LaunchingGateway> StartAsync(Action<ProcessEngineOptions> configure, Action<IServiceCollection>? services = null)
    {
        var workRoot = Path.Combine(Path.GetTempPath(), "launching-tests-" + Guid.NewGuid().ToString("N")[..12]);
        var host = await GatewayHost.StartAsync(
            static _ => { },
            gateway => gateway.AddProcessEngines(o =>
            {
                UseTestEngine(o);
                o.WorkingDirectory = workRoot;
                configure(o);
            }),
            services);
        return new LaunchingGateway(host, workRoot);
    }

    public static ConfigRequest GetAll(string sessionId) => new()
    {
        SessionId = sessionId,
        UserContext = new UserContext { UserId = "ignored" },
        Operation = new ConfigRequest.Types.Operation { GetAll = new ConfigRequest.Types.GetAll() },
    };

    public static bool IsAlive(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Host.DisposeAsync();
        }
        finally
        {
            // Whatever the test did: every process still running in this gateway's engine directories is ours.
            EngineProcesses.KillAllUnder(WorkRoot);

            try
            {
                Directory.Delete(WorkRoot, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
