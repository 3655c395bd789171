using System.Collections.Concurrent;

namespace SparkConnect.Multiplexer.Sessions;

/// <summary>Calls in flight per session: a session with a running stream is never idle, however long the stream runs.</summary>
internal sealed class ActiveCalls
{
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

    public bool IsActive(string sessionId) => _calls.ContainsKey(sessionId);

    /// <summary>Calls in flight for a session on this gateway instance.</summary>
    public int Count(string sessionId) => _calls.TryGetValue(sessionId, out var count) ? count : 0;

    /// <summary>Whether any call is in flight.</summary>
    public bool Any => !_calls.IsEmpty;

    public void Started(string sessionId) => _calls.AddOrUpdate(sessionId, 1, static (_, n) => n + 1);

    public void Ended(string sessionId)
    {
        while (_calls.TryGetValue(sessionId, out var current))
        {
            if (current <= 1 ? _calls.TryRemove(new KeyValuePair<string, int>(sessionId, current)) : _calls.TryUpdate(sessionId, current - 1, current))
            {
                return;
            }
        }
    }
}
