using Microsoft.Extensions.DependencyInjection;

namespace SparkConnect.Multiplexer.Tests.Infrastructure;

/// <summary>The engines an <see cref="AlternatingLocator"/> hands out in turn.</summary>
internal sealed class AlternatingEngines(params Uri[] engines)
{
    private int _next = -1;

    public (int Index, Uri Address) Next()
    {
        var index = Interlocked.Increment(ref _next) % engines.Length;
        return (index, engines[index]);
    }
}

/// <summary>A host-written locator: new sessions go to the configured engines in turn.</summary>
internal sealed class AlternatingLocator(AlternatingEngines engines) : IEngineLocator
{
    public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
    {
        var (index, address) = engines.Next();
        return ValueTask.FromResult(new EngineEndpoint("alternating-" + index, address));
    }
}

internal static class AlternatingRegistration
{
    public static void UseAlternatingEngines(this ISparkConnectGatewayBuilder builder, params Uri[] engines)
    {
        builder.Services.AddSingleton(new AlternatingEngines(engines));
        builder.AddEngineLocator<AlternatingLocator>();
    }
}
