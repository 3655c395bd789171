namespace SparkConnect.Multiplexer.Launching;

/// <summary>
/// Tells the launcher which of the engines it runs have sessions through other gateway replicas, whose session
/// stores it cannot read (an in-memory store is per replica). Registered by integrations that share engines between
/// replicas (ZooKeeper); without one, the launcher counts only the sessions its own store lists.
/// </summary>
internal interface IRemoteEngineUse
{
    /// <summary>Of <paramref name="engineIds"/>, those that another replica has a session on now.</summary>
    /// <exception cref="Exception">It cannot tell (for example ZooKeeper is unreachable); the launcher then keeps every one of them.</exception>
    Task<IReadOnlySet<string>> InUseElsewhereAsync(IReadOnlyCollection<string> engineIds, CancellationToken cancellationToken);
}
