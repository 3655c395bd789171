namespace SparkConnect.Multiplexer.Admission;

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
