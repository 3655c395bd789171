namespace SparkConnect.Multiplexer;

/// <summary>
/// Limits counted across gateway instances instead of in each one, offered by a shared session store (the Redis
/// package's, when its configuration asks for it). Register an implementation to replace the default, with which every
/// instance counts its own calls and sessions.
/// </summary>
public interface ISharedLimits
{
    /// <summary>Whether limits are shared; when false, every instance counts its own and the other members are not called.</summary>
    bool IsEnabled { get; }

    /// <summary>Takes one call from the shared token bucket of <paramref name="key"/>.</summary>
    /// <param name="key">The limit key: <c>u:&lt;user&gt;</c> or <c>a:&lt;address&gt;</c>.</param>
    /// <param name="perSecond">The bucket's refill rate.</param>
    /// <param name="burst">The bucket's size.</param>
    /// <param name="cancellationToken">Cancelled when the call goes away.</param>
    /// <returns>Null when the call fits; else how long until one does.</returns>
    ValueTask<TimeSpan?> TryTakeCallAsync(string key, int perSecond, int burst, CancellationToken cancellationToken);

    /// <summary>
    /// How many sessions the store holds for each limit key (<c>u:&lt;user&gt;</c>, <c>a:&lt;address&gt;</c>,
    /// <c>ua:&lt;user&gt;@&lt;address&gt;</c>), counted from the sessions that exist, whichever instance opened them.
    /// </summary>
    /// <param name="keys">The limit keys.</param>
    /// <param name="cancellationToken">Cancelled when the call goes away.</param>
    /// <returns>One count per key, in order.</returns>
    ValueTask<long[]> CountSessionsAsync(string[] keys, CancellationToken cancellationToken);

    /// <summary>
    /// The limit keys a session of <paramref name="user"/> from <paramref name="clientAddress"/> counts against: a store
    /// that shares limits files each session under these, so that <see cref="CountSessionsAsync"/> finds it.
    /// </summary>
    /// <param name="user">The session's owner.</param>
    /// <param name="clientAddress">The client's address, when known.</param>
    /// <returns>The keys.</returns>
    public static string[] SessionKeysOf(string user, string? clientAddress)
        => clientAddress is null ? ["u:" + user] : ["u:" + user, "a:" + clientAddress, "ua:" + user + "@" + clientAddress];
}
