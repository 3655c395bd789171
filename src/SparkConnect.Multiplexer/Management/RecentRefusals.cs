namespace SparkConnect.Multiplexer.Management;

/// <summary>The last <see cref="Capacity"/> calls this gateway instance refused, newest first, for the dashboard.</summary>
internal sealed class RecentRefusals(TimeProvider time)
{
    public const int Capacity = 100;

    private readonly Lock _gate = new();
    private readonly Queue<Refusal> _refusals = new();

    public void Add(string method, string? user, string? client, Grpc.Core.StatusCode status, string reason, string message)
    {
        var refusal = new Refusal(time.GetUtcNow(), method, user, client, Protocol.GrpcStatusResponder.Name(status), reason, message);
        lock (_gate)
        {
            if (_refusals.Count == Capacity)
            {
                _refusals.Dequeue();
            }

            _refusals.Enqueue(refusal);
        }
    }

    public IReadOnlyList<Refusal> Snapshot()
    {
        lock (_gate)
        {
            return [.. _refusals.Reverse()];
        }
    }
}

/// <summary>A refused call: when, which method, who (when known), from where, the status, why (a bounded reason) and the message sent.</summary>
internal sealed record Refusal(DateTimeOffset At, string Method, string? User, string? ClientAddress, string Status, string Reason, string Message);
