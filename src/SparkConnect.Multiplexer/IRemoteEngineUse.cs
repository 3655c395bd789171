namespace SparkConnect.Multiplexer;

/// <summary>
/// Tells a launcher which of the engines it runs have sessions through other gateway replicas, whose session stores it
/// cannot read (an in-memory store is per replica). Registered by integrations that share engines between replicas (the
/// ZooKeeper package); without one, a launcher counts only the sessions its own store lists.
/// </summary>
public interface IRemoteEngineUse
{
    /// <summary>Of <paramref name="engineIds"/>, those that another replica has a session on now.</summary>
    /// <param name="engineIds">The engines to ask about.</param>
    /// <param name="cancellationToken">Cancelled when the asker gives up.</param>
    /// <returns>The subset in use elsewhere.</returns>
    /// <exception cref="Exception">It cannot tell (for example ZooKeeper is unreachable); launchers then keep every one of them.</exception>
    Task<IReadOnlySet<string>> InUseElsewhereAsync(IReadOnlyCollection<string> engineIds, CancellationToken cancellationToken);
}
