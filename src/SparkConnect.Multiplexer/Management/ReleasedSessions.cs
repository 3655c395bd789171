using System.Diagnostics.CodeAnalysis;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Management;

/// <summary>
/// Sessions an administrator released, remembered for a day (at most <see cref="Capacity"/>, oldest forgotten first)
/// so that their owner's next call is told so instead of opening a new session under the same id. Per gateway
/// instance: another instance learns it from the engine, which Spark 4 makes refuse a released session id too.
/// </summary>
internal sealed class ReleasedSessions(TimeProvider time)
{
    public const int Capacity = 10_000;
    private static readonly TimeSpan Memory = TimeSpan.FromDays(1);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, AdminRelease> _released = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    public void Add(string sessionId, string owner, string admin)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            while (_order.Count > 0 && (_order.Count >= Capacity || (_released.TryGetValue(_order.Peek(), out var oldest) && now - oldest.At > Memory)))
            {
                _released.Remove(_order.Dequeue());
            }

            if (_released.TryAdd(sessionId, new AdminRelease(owner, admin, now)))
            {
                _order.Enqueue(sessionId);
            }
        }
    }

    /// <summary>Whether <paramref name="user"/>'s session <paramref name="sessionId"/> was released by an administrator.</summary>
    public bool TryGet(string sessionId, string user, [NotNullWhen(true)] out AdminRelease? release)
    {
        lock (_gate)
        {
            if (_released.TryGetValue(sessionId, out release) && release.Owner == user && time.GetUtcNow() - release.At <= Memory)
            {
                return true;
            }
        }

        release = null;
        return false;
    }

    /// <summary>What the owner is told: Spark's message for a closed session, and who closed it.</summary>
    public static string Message(string sessionId, AdminRelease release)
        => UnknownSessionAnswers.ClosedMessage(sessionId, $"(released by a gateway administrator at {release.At:u}; start a new session).");

    /// <summary>Spark's ErrorInfo for a closed session, so clients that read the error class see the right one.</summary>
    public static byte[] StatusDetails(string sessionId, AdminRelease release)
        => UnknownSessionAnswers.StatusDetails(sessionId, UnknownSessionAnswers.ClosedErrorClass, Message(sessionId, release));
}

/// <summary>A session an administrator released: its owner, the administrator, and when.</summary>
internal sealed record AdminRelease(string Owner, string Admin, DateTimeOffset At);
