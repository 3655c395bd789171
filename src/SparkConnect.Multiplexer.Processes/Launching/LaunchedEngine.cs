using SparkConnect.Multiplexer.Processes.Engines;

namespace SparkConnect.Multiplexer.Processes.Launching;

/// <summary>One engine the locator launched (or is launching). State changes happen under the manager's lock.</summary>
internal sealed class LaunchedEngine(string id, EngineKey key, DateTimeOffset requestedAt, string launchedBy = "")
{
    private long _lastUsedUtcTicks = requestedAt.UtcTicks;

    public string Id { get; } = id;

    public EngineKey Key { get; } = key;

    public DateTimeOffset RequestedAt { get; } = requestedAt;

    /// <summary>The user whose session caused the launch; the engine counts against their cap.</summary>
    public string LaunchedBy { get; } = launchedBy;

    public LaunchedEngineState State { get; set; } = LaunchedEngineState.Starting;

    /// <summary>When it became ready (the start of its lifetime).</summary>
    public DateTimeOffset ReadyAt { get; set; }

    /// <summary>Completes with the endpoint when ready, or fails with an <see cref="EngineLocationException"/>.</summary>
    public TaskCompletionSource<EngineEndpoint> Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public EngineProcess? Process { get; set; }

    /// <summary>Launched by a gateway that stopped and left it running; this one took it over at its start.</summary>
    public bool Adopted { get; init; }

    /// <summary>Where it listens, once its command line is built (its client is dropped from the pool when it ends).</summary>
    public EngineEndpoint? Endpoint { get; set; }

    /// <summary>The launch, from the slot wait to ready or failure.</summary>
    public Task Launch { get; set; } = Task.CompletedTask;

    /// <summary>When a session was last handed this engine or seen on it.</summary>
    public DateTimeOffset LastUsed => new(Volatile.Read(ref _lastUsedUtcTicks), TimeSpan.Zero);

    public void Touch(DateTimeOffset now)
    {
        var ticks = now.UtcTicks;
        var current = Volatile.Read(ref _lastUsedUtcTicks);
        while (ticks > current)
        {
            var seen = Interlocked.CompareExchange(ref _lastUsedUtcTicks, ticks, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    public override string ToString() => Id;
}
