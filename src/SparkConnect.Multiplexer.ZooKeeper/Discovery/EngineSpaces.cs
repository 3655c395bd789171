using Microsoft.Extensions.Options;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.ZooKeeper.Client;

namespace SparkConnect.Multiplexer.ZooKeeper.Discovery;

/// <summary>
/// The engine spaces this gateway has been asked about, each kept current by a ZooKeeper watch: once a key's space has
/// been read, routing uses the in-memory view and never calls ZooKeeper. A new ZooKeeper session re-reads (and so
/// re-watches) every space. A node whose engine is reported gone (<see cref="IEngineLifecycle"/>: health probes failed,
/// its process exited) is not used again, though it stays registered until its owner's ZooKeeper session ends; the
/// engine's next node (it registered again, came back) is.
/// </summary>
internal sealed class EngineSpaces : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, EngineSpace> _spaces = new(StringComparer.Ordinal);
    private readonly ZooKeeperClient _client;
    private readonly IEngineLifecycle _lifecycle;
    private readonly TimeProvider _time;
    private readonly IOptionsMonitor<ZooKeeperOptions> _options;
    private readonly ILogger<EngineSpaces> _logger;
    private readonly CancellationTokenSource _disposed = new();

    public EngineSpaces(ZooKeeperClient client, IEngineLifecycle lifecycle, TimeProvider time, IOptionsMonitor<ZooKeeperOptions> options, ILogger<EngineSpaces> logger)
    {
        _client = client;
        _lifecycle = lifecycle;
        _time = time;
        _options = options;
        _logger = logger;
        _client.OnNewSession(RearmAsync);
        _lifecycle.EngineGone += OnEngineGone;
    }

    private async Task LoseUnlessBackAsync(EngineSpace space, EngineNode gone, DateTimeOffset removedAt)
    {
        var grace = _options.CurrentValue.LostEngineGracePeriod;
        if (grace > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(grace, _time, _disposed.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (space.Serves(gone.Id))
            {
                return;
            }
        }

        _lifecycle.ReportLost(gone.Id, $"the engine's ZooKeeper node {gone.Name} was removed");
        ZooKeeperLog.EngineNodeRemoved(_logger, gone.Id, gone.Path);
    }

    /// <summary>The space at <paramref name="path"/>, read (and watched) first when it is new.</summary>
    public async ValueTask<EngineSpace> GetAsync(string path, CancellationToken cancellationToken)
    {
        var space = _spaces.GetOrAdd(path, p => new EngineSpace(p, this));
        if (!space.IsInitialized)
        {
            await space.RefreshAsync(cancellationToken);
        }

        return space;
    }

    public async ValueTask DisposeAsync()
    {
        _lifecycle.EngineGone -= OnEngineGone;
        await _disposed.CancelAsync();
        foreach (var space in _spaces.Values)
        {
            space.Dispose();
        }

        _disposed.Dispose();
    }

    private void OnEngineGone(object? sender, EngineGoneEventArgs gone)
    {
        foreach (var space in _spaces.Values)
        {
            space.Distrust(gone.EngineId);
        }
    }

    private async Task RearmAsync(CancellationToken cancellationToken)
    {
        foreach (var space in _spaces.Values)
        {
            space.MarkUnwatched();
            await space.RefreshAsync(cancellationToken);
        }
    }

    /// <summary>One engine space and its current engines.</summary>
    internal sealed class EngineSpace : IDisposable
    {
        private readonly EngineSpaces _owner;
        private readonly long _watcherId;
        private readonly SemaphoreSlim _refreshGate = new(1, 1);
        private readonly Dictionary<string, EngineNode> _parsed = new(StringComparer.Ordinal);

        // Names of nodes whose engine was reported gone while they were registered; pruned as the nodes go.
        private readonly ConcurrentDictionary<string, byte> _distrusted = new(StringComparer.Ordinal);
        private volatile IReadOnlyList<EngineNode> _nodes = [];
        private volatile bool _initialized;
        private int _refreshPending;

        public EngineSpace(string path, EngineSpaces owner)
        {
            Path = path;
            _owner = owner;
            _watcherId = ZooKeeperNative.AddWatcher(_ => OnWatch());
        }

        public string Path { get; }

        public bool IsInitialized => _initialized;

        /// <summary>The engines registered now (as of the last watch event).</summary>
        public IReadOnlyList<EngineNode> Nodes => _nodes;

        /// <summary>The registered engines new sessions may go to: <see cref="Nodes"/> but those reported gone.</summary>
        public IReadOnlyList<EngineNode> UsableNodes
        {
            get
            {
                var nodes = _nodes;
                return _distrusted.IsEmpty ? nodes : [.. nodes.Where(n => !_distrusted.ContainsKey(n.Name))];
            }
        }

        /// <summary>Stops using the nodes registered now for <paramref name="engineId"/> (a node it registers later is used).</summary>
        public void Distrust(string engineId)
        {
            foreach (var node in _nodes)
            {
                if (node.Id == engineId)
                {
                    _distrusted.TryAdd(node.Name, 0);
                }
            }
        }

        public void MarkUnwatched() => _initialized = false;

        /// <summary>Reads the space's children (arming the watch) and updates the view; removed engines are marked lost.</summary>
        public async Task RefreshAsync(CancellationToken cancellationToken)
        {
            await _refreshGate.WaitAsync(cancellationToken);
            try
            {
                var client = _owner._client;
                string[]? children;
                while (true)
                {
                    children = await client.GetChildrenAsync(Path, _watcherId, cancellationToken);
                    if (children is not null)
                    {
                        break;
                    }

                    // No space yet: watch for its creation (and read it when it appeared meanwhile).
                    if (await client.ExistsAsync(Path, _watcherId, cancellationToken) is null)
                    {
                        children = [];
                        break;
                    }
                }

                var nodes = new List<EngineNode>(children.Length);
                var names = new HashSet<string>(children, StringComparer.Ordinal);
                foreach (var name in children)
                {
                    if (!_parsed.TryGetValue(name, out var node))
                    {
                        var data = EngineNode.NameIsComplete(name) ? null : await client.GetDataAsync(Path + "/" + name, null, cancellationToken);
                        node = EngineNode.Parse(Path, name, data);
                        _parsed[name] = node;
                    }

                    nodes.Add(node);
                }

                foreach (var name in _parsed.Keys.Where(n => !names.Contains(n)).ToList())
                {
                    _parsed.Remove(name);
                }

                foreach (var name in _distrusted.Keys.Where(n => !names.Contains(n)))
                {
                    _distrusted.TryRemove(name, out _);
                }

                var previous = _nodes;
                _nodes = nodes;
                _initialized = true;
                var ids = nodes.Select(n => n.Id).ToHashSet(StringComparer.Ordinal);
                foreach (var gone in previous.Where(n => !ids.Contains(n.Id)).DistinctBy(n => n.Id))
                {
                    // No new session goes to it from now on; its sessions are told "engine lost" unless it comes back
                    // (same engineId) within the grace period — as a launched engine's node does after its gateway's
                    // ZooKeeper session expired.
                    _ = _owner.LoseUnlessBackAsync(this, gone, _owner._time.GetUtcNow());
                }

                if (previous.Count != nodes.Count || previous.Except(nodes).Any())
                {
                    ZooKeeperLog.EngineSpaceChanged(_owner._logger, Path, nodes.Count);
                }
            }
            finally
            {
                _refreshGate.Release();
            }
        }

        public bool Serves(string engineId) => _nodes.Any(n => n.Id == engineId);

        public void Dispose()
        {
            ZooKeeperNative.RemoveWatcher(_watcherId);
            _refreshGate.Dispose();
        }

        private void OnWatch()
        {
            // Coalesce: one background refresh at a time; a watch during it schedules one more.
            if (Interlocked.Increment(ref _refreshPending) == 1)
            {
                _ = RefreshInBackgroundAsync();
            }
        }

        private async Task RefreshInBackgroundAsync()
        {
            var token = _owner._disposed.Token;
            while (!token.IsCancellationRequested)
            {
                var seen = Volatile.Read(ref _refreshPending);
                try
                {
                    await RefreshAsync(token);
                    if (Interlocked.Add(ref _refreshPending, -seen) == 0)
                    {
                        return;
                    }
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    return;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                catch (Exception e) when (e is ZooKeeperException or InvalidOperationException)
                {
                    ZooKeeperLog.RefreshFailed(_owner._logger, Path, e);
                    await Task.Delay(TimeSpan.FromMilliseconds(500), token).ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }
            }
        }
    }
}
