using Grpc.Core;

namespace SparkConnect.Multiplexer.TestEngine;

/// <summary>One call as the engine received it.</summary>
public sealed class RecordedCall
{
    private readonly List<byte[]> _requests = [];
    private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal RecordedCall(string method, Metadata headers, DateTime deadline)
    {
        Method = method;
        Headers = headers;
        Deadline = deadline;
    }

    /// <summary>The call's deadline as the engine's gRPC server saw it (DateTime.MaxValue when none).</summary>
    public DateTime Deadline { get; }

    /// <summary>The method name, e.g. <c>ExecutePlan</c>.</summary>
    public string Method { get; }

    /// <summary>The request metadata as received.</summary>
    public Metadata Headers { get; }

    /// <summary>Every request message, byte for byte, in arrival order.</summary>
    public IReadOnlyList<byte[]> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Completes when the engine saw the call cancelled (client cancel or deadline).</summary>
    public Task Cancelled => _cancelled.Task;

    /// <summary>The value of a request header, or null.</summary>
    public string? Header(string name) => Headers.GetValue(name);

    internal void Add(byte[] request)
    {
        lock (_requests)
        {
            _requests.Add(request);
        }
    }

    internal void MarkCancelled() => _cancelled.TrySetResult();
}
