using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;

namespace SparkConnect.Multiplexer.Tests.Infrastructure;

/// <summary>The engines a <see cref="LaunchCountingLocator"/> runs, and how many it launched.</summary>
internal sealed class LaunchedEngines(Uri address)
{
    private int _launches;

    public Uri Address { get; } = address;

    /// <summary>The engine running per key (a test may add one, as if launched before the gateway restarted).</summary>
    public ConcurrentDictionary<EngineKey, EngineEndpoint> Running { get; } = new();

    public ConcurrentQueue<EngineRequest> Requests { get; } = new();

    public int Launches => Volatile.Read(ref _launches);

    public EngineEndpoint Launch(EngineKey key)
    {
        Interlocked.Increment(ref _launches);
        return Running.GetOrAdd(key, k => new EngineEndpoint("launched:" + k, Address));
    }
}

/// <summary>A launching locator as the contract asks: it launches only when the request may launch.</summary>
internal sealed class LaunchCountingLocator(LaunchedEngines engines) : IEngineLocator
{
    public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
    {
        engines.Requests.Enqueue(request);
        if (engines.Running.TryGetValue(request.Key, out var running))
        {
            return ValueTask.FromResult(running);
        }

        return request.MayLaunch
            ? ValueTask.FromResult(engines.Launch(request.Key))
            : throw new EngineNotRunningException(request.Key);
    }
}

internal static class LaunchCountingRegistration
{
    public static void UseLaunchCountingLocator(this ISparkConnectGatewayBuilder builder, LaunchedEngines engines)
    {
        builder.Services.AddSingleton(engines);
        builder.AddEngineLocator<LaunchCountingLocator>();
    }
}
