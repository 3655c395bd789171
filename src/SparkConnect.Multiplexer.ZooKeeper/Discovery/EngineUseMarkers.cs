using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.ZooKeeper.Client;

namespace SparkConnect.Multiplexer.ZooKeeper.Discovery;

/// <summary>
/// Says in ZooKeeper which launched engines this replica has sessions on, and reads what the other replicas say, so
/// that the replica that launched an engine does not stop it as idle while users work on it through another one.
/// </summary>
/// <remarks>
/// A replica that hands a launched engine to a session creates the ephemeral node
/// <c>/{Namespace}_engine_use/{escaped engine id}/{replica id}</c>; every <see cref="IEngineLauncher.IdleCheckInterval"/>
/// it compares its session store with its nodes and removes the node of an engine it has had no session on for two
/// checks running (a session is bound just after its engine is chosen). A replica that dies loses its nodes with its
/// ZooKeeper session; after a session expiry they are re-created.
/// </remarks>
internal sealed class EngineUseMarkers : IRemoteEngineUse, IAsyncDisposable
{
    private static readonly TimeSpan DefaultSweepInterval = TimeSpan.FromSeconds(30);

    private readonly ZooKeeperClient _client;
    private readonly ISessionStore _store;
    private readonly IOptionsMonitor<ZooKeeperOptions> _options;
    private readonly IServiceProvider _services;
    private IEngineLauncher? _launcher;
    private readonly TimeProvider _time;
    private readonly ILogger<EngineUseMarkers> _logger;
    private readonly string _replica = Guid.NewGuid().ToString("N");
    private readonly ConcurrentDictionary<string, Lazy<Task<OwnedNode>>> _marked = new(StringComparer.Ordinal);
    private readonly HashSet<string> _unusedAtLastSweep = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _sweepGate = new(1, 1);
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _loopGate = new();
    private Task? _loop;
    private int _disposeCalls;

    public EngineUseMarkers(
        ZooKeeperClient client,
        ISessionStore store,
        IOptionsMonitor<ZooKeeperOptions> options,
        IServiceProvider services,
        TimeProvider time,
        ILogger<EngineUseMarkers> logger)
    {
        _client = client;
        _store = store;
        _options = options;
        _services = services;
        _time = time;
        _logger = logger;
    }

    /// <summary>This replica's name in the nodes it creates.</summary>
    public string Replica => _replica;

    /// <summary>The parent of every replica's node for <paramref name="engineId"/>.</summary>
    public static string PathOf(ZooKeeperOptions options, string engineId) => $"/{options.Namespace}_engine_use/{Uri.EscapeDataString(engineId)}";

    /// <summary>Says this replica uses the engine (a new session is being bound to it); only launched engines are marked.</summary>
    public async Task MarkAsync(string engineId, CancellationToken cancellationToken)
    {
        if (!IsLaunched(engineId))
        {
            return;
        }

        lock (_unusedAtLastSweep)
        {
            _unusedAtLastSweep.Remove(engineId);
        }

        var marker = _marked.GetOrAdd(engineId, id => new Lazy<Task<OwnedNode>>(() => CreateAsync(id)));
        var created = ObserveAsync(engineId, marker);
        EnsureLoop();
        if (!created.IsCompleted && _client.DisconnectedFor is not null)
        {
            // ZooKeeper is away: the session is not held up for it; the node is made when it is back.
            return;
        }

        await created.WaitAsync(cancellationToken);
    }

    /// <summary>Waits for the marker's node; a failure is logged and the marker forgotten, so the next use tries again.</summary>
    private async Task ObserveAsync(string engineId, Lazy<Task<OwnedNode>> marker)
    {
        try
        {
            await marker.Value;
        }
        catch (Exception e) when (e is ZooKeeperException or InvalidOperationException or ObjectDisposedException or OperationCanceledException)
        {
            // The session still works; the launching replica may stop the engine as idle meanwhile.
            _marked.TryRemove(new KeyValuePair<string, Lazy<Task<OwnedNode>>>(engineId, marker));
            ZooKeeperLog.EngineUseMarkFailed(_logger, engineId, e);
        }
    }

    /// <summary>Brings the nodes in line with the session store: marks engines with sessions, unmarks those without for two sweeps.</summary>
    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        await _sweepGate.WaitAsync(cancellationToken);
        try
        {
            var used = new HashSet<string>(StringComparer.Ordinal);
            await foreach (var session in _store.ListAsync(cancellationToken))
            {
                used.Add(session.EngineId);
            }

            foreach (var engineId in used.Where(id => !_marked.ContainsKey(id)))
            {
                await MarkAsync(engineId, cancellationToken);
            }

            List<string> remove;
            lock (_unusedAtLastSweep)
            {
                var unused = _marked.Keys.Where(id => !used.Contains(id)).ToList();
                remove = [.. unused.Where(_unusedAtLastSweep.Contains)];
                _unusedAtLastSweep.Clear();
                _unusedAtLastSweep.UnionWith(unused.Except(remove));
            }

            foreach (var engineId in remove)
            {
                if (_marked.TryRemove(engineId, out var marker) && marker.IsValueCreated && marker.Value.IsCompletedSuccessfully)
                {
                    try
                    {
                        await _client.RemoveOwnedAsync(marker.Value.Result, cancellationToken);
                    }
                    catch
                    {
                        // Still there: tried again at the next sweep.
                        _marked.TryAdd(engineId, marker);
                        throw;
                    }

                    await DeleteEmptyParentAsync(engineId, cancellationToken);
                }
            }
        }
        finally
        {
            _sweepGate.Release();
        }
    }

    public async Task<IReadOnlySet<string>> InUseElsewhereAsync(IReadOnlyCollection<string> engineIds, CancellationToken cancellationToken)
    {
        var options = _options.CurrentValue;
        if (_client.DisconnectedFor is { } away)
        {
            // Asked at every idle check and at the gateway's stop: an outage answers at once, not after a timeout.
            throw new InvalidOperationException($"ZooKeeper ({options.ConnectionString}) has been unreachable for {away.TotalSeconds:0} s.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectionTimeout);
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var engineId in engineIds.Where(IsLaunched))
        {
            var replicas = await _client.GetChildrenAsync(PathOf(options, engineId), null, timeout.Token) ?? [];
            if (replicas.Any(r => !string.Equals(r, _replica, StringComparison.Ordinal)))
            {
                used.Add(engineId);
            }
        }

        return used;
    }

    /// <summary>
    /// Only engines a launcher made are marked. The launcher is looked up on first use: it depends on this (as its
    /// <see cref="IRemoteEngineUse"/>), so it cannot be a constructor dependency.
    /// </summary>
    private bool IsLaunched(string engineId)
        => Launcher is { } launcher && launcher.IsLaunchedEngineId(engineId);

    // Resolved on first use, not in the constructor: the launcher depends on this service (IRemoteEngineUse).
    private IEngineLauncher? Launcher => _launcher ??= _services.GetService<IEngineLauncher>();

    public async ValueTask DisposeAsync()
    {
        // Registered twice (as itself and as IRemoteEngineUse): the container disposes it twice.
        if (Interlocked.Exchange(ref _disposeCalls, 1) == 1)
        {
            return;
        }

        await _disposed.CancelAsync();
        if (_loop is not null)
        {
            await _loop.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        _sweepGate.Dispose();
        _disposed.Dispose();
    }

    private async Task<OwnedNode> CreateAsync(string engineId)
    {
        var options = _options.CurrentValue;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_disposed.Token);
        timeout.CancelAfter(options.ConnectionTimeout);
        try
        {
            return await _client.CreateOwnedAsync(PathOf(options, engineId) + "/" + _replica, [], sequential: false, timeout.Token);
        }
        catch (OperationCanceledException e) when (!_disposed.IsCancellationRequested)
        {
            throw new InvalidOperationException($"ZooKeeper did not answer within {options.ConnectionTimeout.TotalSeconds:0.#} s.", e);
        }
    }

    private async Task DeleteEmptyParentAsync(string engineId, CancellationToken cancellationToken)
    {
        try
        {
            await _client.DeleteAsync(PathOf(_options.CurrentValue, engineId), cancellationToken);
        }
        catch (ZooKeeperException e) when (e.Code == ZooKeeperNative.ZNotEmpty)
        {
            // Another replica still uses it.
        }
    }

    private void EnsureLoop()
    {
        lock (_loopGate)
        {
            _loop ??= Task.Run(LoopAsync, CancellationToken.None);
        }
    }

    private async Task LoopAsync()
    {
        var token = _disposed.Token;
        try
        {
            using var timer = new PeriodicTimer(Launcher?.IdleCheckInterval ?? DefaultSweepInterval, _time);
            while (await timer.WaitForNextTickAsync(token))
            {
                try
                {
                    await SweepAsync(token);
                }
                catch (Exception e) when (e is ZooKeeperException or InvalidOperationException)
                {
                    ZooKeeperLog.EngineUseSweepFailed(_logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
