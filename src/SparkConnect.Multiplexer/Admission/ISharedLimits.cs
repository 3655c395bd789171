namespace SparkConnect.Multiplexer.Admission;

/// <summary>
/// Limits counted across gateway instances instead of in each one: offered by a shared session store (Redis) when
/// its configuration asks for it. Without one, every instance counts its own calls and sessions.
/// </summary>
internal interface ISharedLimits
{
    /// <summary>Whether limits are shared; when false, every instance counts its own.</summary>
    bool IsEnabled { get; }

    /// <summary>Takes one call from the shared token bucket of <paramref name="key"/>.</summary>
    /// <returns>Null when the call fits; else how long until one does.</returns>
    ValueTask<TimeSpan?> TryTakeCallAsync(string key, int perSecond, int burst, CancellationToken cancellationToken);

    /// <summary>
    /// How many sessions the store holds for each limit key (<c>u:&lt;user&gt;</c>, <c>a:&lt;address&gt;</c>,
    /// <c>ua:&lt;user&gt;@&lt;address&gt;</c>), counted from the sessions that exist, whichever instance opened them.
    /// </summary>
    ValueTask<long[]> CountSessionsAsync(string[] keys, CancellationToken cancellationToken);
}

/// <summary>No shared limits: every instance counts its own.</summary>
internal sealed class NoSharedLimits : ISharedLimits
{
    public static readonly NoSharedLimits Instance = new();

    public bool IsEnabled => false;

    public ValueTask<TimeSpan?> TryTakeCallAsync(string key, int perSecond, int burst, CancellationToken cancellationToken)
        => throw new InvalidOperationException("Limits are not shared.");

    public ValueTask<long[]> CountSessionsAsync(string[] keys, CancellationToken cancellationToken)
        => throw new InvalidOperationException("Limits are not shared.");
}
