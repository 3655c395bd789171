using System.Globalization;
using SparkConnect.Multiplexer.ZooKeeper.Client;

namespace SparkConnect.Multiplexer.ZooKeeper.Discovery;

/// <summary>
/// ZooKeeper's lock recipe: an ephemeral-sequential child of the lock path per contender; the lowest sequence holds the
/// lock, each other contender watches the one just before it. A holder that dies loses its node with its session, so
/// the lock passes on. Node names start with a per-attempt id so a contender can recognise its own node.
/// </summary>
internal sealed class ZooKeeperLock : IAsyncDisposable
{
    private const string Marker = "-lock-";
    private static readonly TimeSpan Recheck = TimeSpan.FromSeconds(2);

    private readonly ZooKeeperClient _client;

    private ZooKeeperLock(ZooKeeperClient client, string path)
    {
        _client = client;
        Path = path;
    }

    /// <summary>The lock node this holder created.</summary>
    public string Path { get; }

    public static async Task<ZooKeeperLock> AcquireAsync(ZooKeeperClient client, string lockPath, CancellationToken cancellationToken)
    {
        var prefix = Guid.NewGuid().ToString("N") + Marker;
        string? mine = null;
        try
        {
            mine = await client.CreateAsync(lockPath + "/" + prefix, null, ZooKeeperNative.EphemeralSequential, createParents: true, cancellationToken);
            while (true)
            {
                var children = await client.GetChildrenAsync(lockPath, null, cancellationToken) ?? [];
                var ordered = children.Where(c => c.Contains(Marker, StringComparison.Ordinal)).OrderBy(SequenceOf).ToList();
                // A create retried after a connection loss may have left a second node of ours: keep the first.
                var own = ordered.Where(c => c.StartsWith(prefix, StringComparison.Ordinal)).ToList();
                if (own.Count == 0)
                {
                    // Gone with an expired session: queue again.
                    mine = await client.CreateAsync(lockPath + "/" + prefix, null, ZooKeeperNative.EphemeralSequential, createParents: true, cancellationToken);
                    continue;
                }

                mine = lockPath + "/" + own[0];
                foreach (var duplicate in own.Skip(1))
                {
                    await DeleteQuietlyAsync(client, lockPath + "/" + duplicate);
                }

                var index = ordered.IndexOf(own[0]);

                if (index == 0)
                {
                    return new ZooKeeperLock(client, mine);
                }

                var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var watcher = ZooKeeperNative.AddWatcher(_ => released.TrySetResult());
                try
                {
                    if (await client.ExistsAsync(lockPath + "/" + ordered[index - 1], watcher, cancellationToken) is not null)
                    {
                        // The watch wakes us; the periodic re-check covers a watch lost with a session.
                        await Task.WhenAny(released.Task, Task.Delay(Recheck, cancellationToken));
                        cancellationToken.ThrowIfCancellationRequested();
                    }
                }
                finally
                {
                    ZooKeeperNative.RemoveWatcher(watcher);
                }
            }
        }
        catch when (mine is not null)
        {
            await DeleteQuietlyAsync(client, mine);
            throw;
        }
    }

    public ValueTask DisposeAsync() => new(DeleteQuietlyAsync(_client, Path));

    private static async Task DeleteQuietlyAsync(ZooKeeperClient client, string path)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await client.DeleteAsync(path, timeout.Token);
        }
        catch (Exception e) when (e is ZooKeeperException or OperationCanceledException or ObjectDisposedException)
        {
            // The node goes with the session at the latest.
        }
    }

    private static long SequenceOf(string name)
    {
        var marker = name.LastIndexOf(Marker, StringComparison.Ordinal);
        return long.TryParse(name.AsSpan(marker + Marker.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) ? sequence : long.MaxValue;
    }
}
