using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace SparkConnect.Multiplexer.Sessions;

/// <summary>
/// The default <see cref="ISessionStore"/>: sessions in this process only. Enough for one gateway instance; several
/// instances behind a load balancer need a shared store so a session id keeps its owner across them.
/// </summary>
internal sealed class InMemorySessionStore : ISessionStore
{
    private readonly ConcurrentDictionary<string, Entry> _sessions = new(StringComparer.Ordinal);

    public ValueTask<SessionClaim> ClaimAsync(SessionRecord candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var added = new Entry(candidate);
        var stored = _sessions.GetOrAdd(candidate.SessionId, added);
        return ValueTask.FromResult(new SessionClaim(stored.Snapshot(), ReferenceEquals(stored, added)));
    }

    public ValueTask<SessionRecord?> GetAsync(string sessionId, CancellationToken cancellationToken)
        => ValueTask.FromResult(_sessions.TryGetValue(sessionId, out var entry) ? entry.Snapshot() : null);

    public ValueTask TouchAsync(string sessionId, DateTimeOffset timestamp, CancellationToken cancellationToken)
    {
        if (_sessions.TryGetValue(sessionId, out var entry))
        {
            entry.Touch(timestamp);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<SessionRecord?> RemoveAsync(string sessionId, CancellationToken cancellationToken)
        => ValueTask.FromResult(_sessions.TryRemove(sessionId, out var entry) ? entry.Snapshot() : null);

    public async IAsyncEnumerable<SessionRecord> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var entry in _sessions.Values)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return entry.Snapshot();
        }

        await Task.CompletedTask;
    }

    /// <summary>The stored record plus its last activity, updated in place so a touch allocates nothing.</summary>
    private sealed class Entry(SessionRecord record)
    {
        private long _lastActivityUtcTicks = record.LastActivity.UtcTicks;

        public void Touch(DateTimeOffset timestamp)
        {
            var ticks = timestamp.UtcTicks;
            var current = Volatile.Read(ref _lastActivityUtcTicks);
            while (ticks > current)
            {
                var seen = Interlocked.CompareExchange(ref _lastActivityUtcTicks, ticks, current);
                if (seen == current)
                {
                    return;
                }

                current = seen;
            }
        }

        public SessionRecord Snapshot()
        {
            var ticks = Volatile.Read(ref _lastActivityUtcTicks);
            return ticks == record.LastActivity.UtcTicks ? record : record with { LastActivity = new DateTimeOffset(ticks, TimeSpan.Zero) };
        }
    }
}
