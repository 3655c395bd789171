namespace SparkConnect.Multiplexer.Redis.Sessions;

/// <summary>
/// The limits the Redis store shares across replicas (<see cref="RedisSessionStoreOptions.ShareLimits"/>), as long as the
/// gateway's session store is that store: a host that replaced the store after <c>AddRedisSessionStore()</c> counts per
/// replica again, since Redis would not hold its sessions.
/// </summary>
internal sealed class RedisSharedLimits(ISessionStore store) : ISharedLimits
{
    private readonly RedisSessionStore? _redis = store as RedisSessionStore;

    public bool IsEnabled => _redis is { IsEnabled: true };

    public ValueTask<TimeSpan?> TryTakeCallAsync(string key, int perSecond, int burst, CancellationToken cancellationToken)
        => Shared.TryTakeCallAsync(key, perSecond, burst, cancellationToken);

    public ValueTask<long[]> CountSessionsAsync(string[] keys, CancellationToken cancellationToken)
        => Shared.CountSessionsAsync(keys, cancellationToken);

    private RedisSessionStore Shared => IsEnabled ? _redis! : throw new InvalidOperationException("Limits are not shared: the session store is not the Redis store, or Redis:ShareLimits is off.");
}
