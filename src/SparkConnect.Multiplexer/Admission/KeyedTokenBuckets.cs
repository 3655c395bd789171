using System.Collections.Concurrent;
using System.Threading.RateLimiting;

namespace SparkConnect.Multiplexer.Admission;

/// <summary>
/// One <see cref="TokenBucketRateLimiter"/> per key (a user, a client address), made on first use. Memory stays
/// bounded: buckets that have refilled are dropped by a sweep — a full bucket and a new one are the same, so dropping
/// one loses nothing — which runs every <see cref="SweepInterval"/> of calls, and early when the number of buckets
/// passes <see cref="SweepThreshold"/> (or twice what the last sweep left).
/// </summary>
/// <remarks>
/// Buckets refill lazily, when used or swept (no timer per bucket), so an idle key costs nothing but its entry until
/// the next sweep. A bucket is rebuilt when its key's rate or burst changes (a configuration reload).
/// </remarks>
internal sealed class KeyedTokenBuckets(TimeProvider time)
{
    internal static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(10);
    internal const int SweepThreshold = 10_000;

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private long _nextSweep = time.GetTimestamp() + (long)(SweepInterval.TotalSeconds * time.TimestampFrequency);
    private int _sweepAbove = SweepThreshold;
    private int _sweeping;

    /// <summary>How many buckets are held now.</summary>
    public int Count => _buckets.Count;

    /// <summary>Takes one call from <paramref name="key"/>'s bucket.</summary>
    /// <returns>Null when the call fits; else how long until one does.</returns>
    public TimeSpan? TryTake(string key, int perSecond, int burst)
    {
        var bucket = _buckets.GetOrAdd(key, static (_, rate) => new Bucket(rate.perSecond, rate.burst), (perSecond, burst));
        if (bucket.PerSecond != perSecond || bucket.Burst != burst)
        {
            var replacement = new Bucket(perSecond, burst);
            bucket = _buckets.TryUpdate(key, replacement, bucket) ? replacement : _buckets.GetOrAdd(key, replacement);
        }

        var wait = bucket.TryTake();
        SweepIfDue();
        return wait;
    }

    /// <summary>Drops every bucket that has refilled; returns how many were dropped.</summary>
    public int Sweep()
    {
        var dropped = 0;
        foreach (var (key, bucket) in _buckets)
        {
            // Not disposed (see Bucket): a call may still be taking from it, which then counts against a bucket that
            // is gone, at most one call.
            if (bucket.IsFull() && _buckets.TryRemove(new KeyValuePair<string, Bucket>(key, bucket)))
            {
                dropped++;
            }
        }

        return dropped;
    }

    private void SweepIfDue()
    {
        var now = time.GetTimestamp();
        if ((now < Volatile.Read(ref _nextSweep) && _buckets.Count <= Volatile.Read(ref _sweepAbove)) || Interlocked.Exchange(ref _sweeping, 1) == 1)
        {
            return;
        }

        try
        {
            Volatile.Write(ref _nextSweep, now + (long)(SweepInterval.TotalSeconds * time.TimestampFrequency));
            Sweep();

            // Buckets still draining (many keys busy at once) stay; the next early sweep waits until their number
            // doubles, so sweeping stays a constant cost per call however many keys there are.
            Volatile.Write(ref _sweepAbove, Math.Max(SweepThreshold, _buckets.Count * 2));
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "The limiter has no timer (AutoReplenishment off) and no queue (QueueLimit 0): disposing it frees nothing, and would fail a call still taking from a bucket the sweep dropped.")]
    private sealed class Bucket
    {
        private readonly TokenBucketRateLimiter _limiter;

        public Bucket(int perSecond, int burst)
        {
            PerSecond = perSecond;
            Burst = burst;

            // One token per 1/rate seconds: the bucket refills smoothly, not in one step each second.
            _limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = burst > 0 ? burst : perSecond,
                TokensPerPeriod = 1,
                ReplenishmentPeriod = TimeSpan.FromTicks(Math.Max(1, TimeSpan.TicksPerSecond / perSecond)),
                QueueLimit = 0,
                AutoReplenishment = false,
            });
        }

        public int PerSecond { get; }

        public int Burst { get; }

        public TimeSpan? TryTake()
        {
            _limiter.TryReplenish();
            using var lease = _limiter.AttemptAcquire();
            if (lease.IsAcquired)
            {
                return null;
            }

            return lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) && retryAfter > TimeSpan.Zero
                ? retryAfter
                : TimeSpan.FromTicks(TimeSpan.TicksPerSecond / PerSecond);
        }

        public bool IsFull()
        {
            _limiter.TryReplenish();
            return _limiter.IdleDuration is not null;
        }
    }
}
