namespace SparkConnect.Multiplexer.Tests.Infrastructure;

/// <summary>A host-written locator: new sessions go to the configured engines in turn.</summary>
internal sealed class AlternatingLocator : IEngineLocator
{
    private int _next = -1;

    // Tests using it run in one class; the list is set before the gateway starts.
    public static IReadOnlyList<Uri> Engines { get; set; } = [];

    public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
    {
        var index = Interlocked.Increment(ref _next) % Engines.Count;
        return ValueTask.FromResult(new EngineEndpoint("alternating-" + index, Engines[index]));
    }
}
