using System.Collections.Concurrent;

namespace SparkConnect.Multiplexer.Tests.Infrastructure;

/// <summary>The engine every session of a test goes to, and the requests the locator saw.</summary>
internal sealed class EngineTarget(Uri address)
{
    public Uri Address { get; } = address;

    public ConcurrentQueue<EngineRequest> Requests { get; } = new();
}

/// <summary>A host-written locator that records each request and names the engine after its key.</summary>
internal sealed class KeyRecordingLocator(EngineTarget target) : IEngineLocator
{
    public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
    {
        target.Requests.Enqueue(request);
        return ValueTask.FromResult(new EngineEndpoint("key:" + request.Key, target.Address));
    }
}
