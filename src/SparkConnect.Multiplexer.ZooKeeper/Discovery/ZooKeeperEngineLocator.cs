using System.Collections.Concurrent;
using System.Text;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.ZooKeeper.Client;

namespace SparkConnect.Multiplexer.ZooKeeper.Discovery;

/// <summary>
/// The <see cref="IEngineLocator"/> that finds engines registered in ZooKeeper the Apache Kyuubi way and, when none is
/// registered and the launching locator is configured, launches one under a ZooKeeper lock per engine key (so one
/// replica launches it) and registers it on the engine's behalf.
/// </summary>
internal sealed class ZooKeeperEngineLocator : IEngineLocator, ILaunchedEngines, IAsyncDisposable
{
    /// <summary>The message of the FAILED_PRECONDITION error for nodes without a Spark Connect endpoint.</summary>
    public const string NoSparkConnectPortMessage = "engine registered without a Spark Connect port: an administrator must start it with the Spark Connect plugin (spark.plugins=org.apache.spark.sql.connect.SparkConnectPlugin) and register its port as sparkConnectPort=P or sparkConnectUri=host:port in its ZooKeeper node";

    private static readonly TimeSpan MonitorInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan OutagePollInterval = TimeSpan.FromMilliseconds(200);

    private readonly EngineSpaces _spaces;
    private readonly ZooKeeperClient _client;
    private readonly IOptionsMonitor<ZooKeeperOptions> _options;
    private readonly ISessionStore _store;
    private readonly IEngineLauncher? _launcher;
    private readonly EngineUseMarkers _use;
    private readonly ILogger<ZooKeeperEngineLocator> _logger;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _launchGates = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, OwnedNode> _launched = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _monitorGate = new();
    private Task? _monitor;

    public ZooKeeperEngineLocator(
        EngineSpaces spaces,
        ZooKeeperClient client,
        IOptionsMonitor<ZooKeeperOptions> options,
        ISessionStore store,
        IServiceProvider services,
        EngineUseMarkers use,
        ILogger<ZooKeeperEngineLocator> logger)
    {
        _use = use;
        _spaces = spaces;
        _client = client;
        _options = options;
        _store = store;
        _launcher = services.GetService<IEngineLauncher>();
        _logger = logger;

        // Engines adopted at start-up from a gateway that stopped are registered again from the first tick on, before
        // the other replicas' grace period for their vanished node ends.
        if (CanLaunch)
        {
            EnsureMonitor();
        }
    }

    /// <summary>Whether engines are launched when none is registered.</summary>
    public bool CanLaunch => _launcher is not null && _options.CurrentValue.LaunchEngines;

    /// <summary>The engine space of a key: <c>/{namespace}_{version}_{SHARELEVEL}_{ENGINETYPE}/{owner}/{subdomain}</c>.</summary>
    public static string SpacePath(ZooKeeperOptions options, EngineKey key) => Root(options, key, "") + "/" + Segment(key.Owner) + "/" + Segment(key.Subdomain);

    /// <summary>The launch lock of a key: <c>/{namespace}_{version}_{SHARELEVEL}_{ENGINETYPE}_lock/{owner}/{subdomain}</c>.</summary>
    public static string LockPath(ZooKeeperOptions options, EngineKey key) => Root(options, key, "_lock") + "/" + Segment(key.Owner) + "/" + Segment(key.Subdomain);

    /// <summary>The engines this replica's launcher runs (for the admin API).</summary>
    public IReadOnlyList<LaunchedEngineInfo> LaunchedEngines => _launcher?.LaunchedEngines ?? [];

    public Task<bool> StopEngineAsync(string engineId, string reason, CancellationToken cancellationToken)
        => _launcher?.StopEngineAsync(engineId, reason, cancellationToken) ?? Task.FromResult(false);

    public async ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
    {
        var endpoint = await LocateCoreAsync(request, cancellationToken);

        // A session is about to be bound to it through this replica: the replica that launched it must not stop it.
        await _use.MarkAsync(endpoint.Id, cancellationToken);
        return endpoint;
    }

    private async ValueTask<EngineEndpoint> LocateCoreAsync(EngineRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var options = _options.CurrentValue;
        var spacePath = SpacePath(options, request.Key);
        var space = await GetSpaceAsync(spacePath, cancellationToken);
        if (await ChooseAsync(space, options, cancellationToken) is { } found)
        {
            return found;
        }

        if (!request.MayLaunch)
        {
            // The call cannot create a session: with no engine registered for the key there is none to reach.
            throw new EngineNotRunningException($"No engine is registered for {request.Key} in ZooKeeper ({spacePath}), and the call may not launch one.");
        }

        if (!CanLaunch)
        {
            throw new EngineLocationException(
                $"No engine is registered for {request.Key} in ZooKeeper ({spacePath}); start one for this key (it registers itself), then retry.",
                StatusCode.Unavailable);
        }

        return await LaunchAsync(request, space, options, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync();
        if (_monitor is not null)
        {
            await _monitor.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        foreach (var gate in _launchGates.Values)
        {
            gate.Dispose();
        }

        _disposed.Dispose();
    }

    private static string Root(ZooKeeperOptions options, EngineKey key, string suffix)
        => $"/{options.Namespace}_{options.EngineVersion}_{key.ShareLevel.ToString().ToUpperInvariant()}_{options.EngineType}{suffix}";

    private static string Segment(string value)
        => value.Length == 0 || value is "." or ".." || value.Contains('/', StringComparison.Ordinal) || value.Contains('\0', StringComparison.Ordinal)
            ? throw new EngineLocationException($"'{value}' cannot name a ZooKeeper engine space.", StatusCode.FailedPrecondition)
            : value;

    private async ValueTask<EngineSpaces.EngineSpace> GetSpaceAsync(string path, CancellationToken cancellationToken)
    {
        // Only a space not read yet calls ZooKeeper; bounded, so a lost ensemble is UNAVAILABLE rather than a hang.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.CurrentValue.ConnectionTimeout);
        try
        {
            return await _spaces.GetAsync(path, timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new EngineLocationException(
                $"ZooKeeper did not answer within {_options.CurrentValue.ConnectionTimeout.TotalSeconds:0.#} s ({ZooKeeperOptions.SectionName}:ConnectionTimeout) while looking up the engines of {path}; retry shortly.",
                StatusCode.Unavailable);
        }
        catch (ZooKeeperException e)
        {
            throw new EngineLocationException($"ZooKeeper could not be read ({e.Message}); retry shortly.", StatusCode.Unavailable, e);
        }
    }

    /// <summary>An engine of the space by the selection policy; null when none is registered (or all were reported gone).</summary>
    private async ValueTask<EngineEndpoint?> ChooseAsync(EngineSpaces.EngineSpace space, ZooKeeperOptions options, CancellationToken cancellationToken)
    {
        var nodes = space.UsableNodes;
        if (nodes.Count == 0)
        {
            return null;
        }

        var usable = nodes.Where(n => n.SparkConnectAddress is not null).ToList();
        if (usable.Count == 0)
        {
            throw new EngineLocationException($"{NoSparkConnectPortMessage} ({nodes[0].Name}).", StatusCode.FailedPrecondition);
        }

        EngineNode chosen;
        switch (options.SelectionPolicy)
        {
            case EngineSelectionPolicy.Newest:
                chosen = usable.MaxBy(n => n.SequenceNumber)!;
                break;
            case EngineSelectionPolicy.LeastSessions when usable.Count > 1:
                var counts = new Dictionary<string, int>(StringComparer.Ordinal);
                await foreach (var session in _store.ListAsync(cancellationToken))
                {
                    counts[session.EngineId] = counts.GetValueOrDefault(session.EngineId) + 1;
                }

                chosen = usable.MinBy(n => (counts.GetValueOrDefault(n.Id), -n.SequenceNumber))!;
                break;
            default:
                chosen = usable[Random.Shared.Next(usable.Count)];
                break;
        }

        // The node carries no credential: the launcher knows the token of an engine it runs, and derives that of an
        // engine another replica launched from the secret every replica shares.
        return new EngineEndpoint(chosen.Id, new Uri($"{options.EngineScheme}://{chosen.SparkConnectAddress}"))
        {
            AccessToken = _launcher?.AccessTokenFor(chosen.Id),
        };
    }

    private async Task<EngineEndpoint> LaunchAsync(EngineRequest request, EngineSpaces.EngineSpace space, ZooKeeperOptions options, CancellationToken cancellationToken)
    {
        var lockPath = LockPath(options, request.Key);
        var gate = _launchGates.GetOrAdd(space.Path, static _ => new SemaphoreSlim(1, 1));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.LaunchTimeout);

        // Without ZooKeeper no replica can take the lock or register an engine: say so within the connection timeout
        // rather than after the launch timeout.
        using var outage = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        using var stopWatching = new CancellationTokenSource();
        var watching = CancelOnOutageAsync(options.ConnectionTimeout, outage, stopWatching.Token);
        try
        {
            ThrowIfOutage(request.Key, options);

            // One caller per key in this gateway goes on to the ZooKeeper lock; the others find its engine after it.
            await gate.WaitAsync(outage.Token);
            try
            {
                if (await ChooseAsync(space, options, outage.Token) is { } local)
                {
                    return local;
                }

                await using var held = await ZooKeeperLock.AcquireAsync(_client, lockPath, outage.Token);

                // Authoritative re-check under the lock: another replica may have launched and registered it.
                await space.RefreshAsync(outage.Token);
                if (await ChooseAsync(space, options, outage.Token) is { } registered)
                {
                    ZooKeeperLog.FoundAfterLock(_logger, request.Key, lockPath);
                    return registered;
                }

                ZooKeeperLog.LaunchLocked(_logger, lockPath, request.Key);

                // A launch cut short by an outage goes on; once ZooKeeper is back, the next call registers it.
                var endpoint = await _launcher!.LaunchAsync(request, outage.Token);
                await RegisterLaunchedAsync(space.Path, request.Key, endpoint, options, outage.Token);
                await space.RefreshAsync(outage.Token);
                return endpoint;
            }
            finally
            {
                gate.Release();
            }
        }
        catch (OperationCanceledException) when (outage.IsCancellationRequested && !timeout.IsCancellationRequested)
        {
            throw Unreachable(request.Key, options);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new EngineLocationException(
                $"No engine for {request.Key} became available within {options.LaunchTimeout.TotalSeconds:0.#} s ({ZooKeeperOptions.SectionName}:LaunchTimeout); it may still be starting: retry.",
                StatusCode.Unavailable)
            {
                // Still starting: clients that honour RetryInfo wait this long instead of backing off from 50 ms.
                RetryAfter = TimeSpan.FromSeconds(10),
            };
        }
        catch (ZooKeeperException e)
        {
            throw new EngineLocationException($"Coordinating the engine launch for {request.Key} in ZooKeeper ({options.ConnectionString}) failed ({e.Message}); retry.", StatusCode.Unavailable, e);
        }
        finally
        {
            await stopWatching.CancelAsync();
            await watching;
        }
    }

    /// <summary>Cancels <paramref name="outage"/> once the connection to ZooKeeper has been lost for <paramref name="limit"/>.</summary>
    private async Task CancelOnOutageAsync(TimeSpan limit, CancellationTokenSource outage, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (_client.DisconnectedFor >= limit)
                {
                    await outage.CancelAsync();
                    return;
                }

                await Task.Delay(OutagePollInterval, stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private void ThrowIfOutage(EngineKey key, ZooKeeperOptions options)
    {
        if (_client.DisconnectedFor >= options.ConnectionTimeout)
        {
            throw Unreachable(key, options);
        }
    }

    private EngineLocationException Unreachable(EngineKey key, ZooKeeperOptions options) => new(
        $"ZooKeeper ({options.ConnectionString}) has been unreachable for {(_client.DisconnectedFor ?? options.ConnectionTimeout).TotalSeconds:0} s, longer than {ZooKeeperOptions.SectionName}:ConnectionTimeout ({options.ConnectionTimeout.TotalSeconds:0.#} s): no engine for {key} can be launched, since gateway replicas coordinate launches through it. Retry when ZooKeeper is back; an administrator should check the ensemble and {ZooKeeperOptions.SectionName}:ConnectionString.",
        StatusCode.Unavailable)
    {
        RetryAfter = TimeSpan.FromSeconds(5),
    };

    private async Task RegisterLaunchedAsync(string spacePath, EngineKey key, EngineEndpoint endpoint, ZooKeeperOptions options, CancellationToken cancellationToken)
    {
        if (_launched.ContainsKey(endpoint.Id))
        {
            return;
        }

        var host = options.LaunchedEngineHost is { Length: > 0 } advertised ? advertised : endpoint.Address.Host;
        var port = endpoint.Address.Port;
        var name = EngineNode.FormatName(host, port, options.EngineVersion, endpoint.Id);
        var node = await _client.CreateOwnedAsync(spacePath + "/" + name, Encoding.UTF8.GetBytes($"{host}:{port}"), sequential: true, cancellationToken);
        _launched[endpoint.Id] = node;
        ZooKeeperLog.LaunchedEngineRegistered(_logger, endpoint.Id, key, node.CurrentPath ?? name);
        EnsureMonitor();
    }

    private void EnsureMonitor()
    {
        lock (_monitorGate)
        {
            _monitor ??= Task.Run(MonitorAsync, CancellationToken.None);
        }
    }

    /// <summary>
    /// Removes the node of every launched engine that is no longer ready (exited, idle-stopped, retired), and registers
    /// every engine adopted from a gateway that stopped (its node went with that gateway's ZooKeeper session).
    /// </summary>
    private async Task MonitorAsync()
    {
        var token = _disposed.Token;
        using var timer = new PeriodicTimer(MonitorInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(token))
            {
                var engines = _launcher!.LaunchedEngines;
                foreach (var adopted in engines.Where(e => e is { Adopted: true, State: LaunchedEngineState.Ready, Address: not null } && !_launched.ContainsKey(e.Id)))
                {
                    try
                    {
                        var options = _options.CurrentValue;
                        await RegisterLaunchedAsync(SpacePath(options, adopted.Key), adopted.Key, new EngineEndpoint(adopted.Id, adopted.Address!), options, token);
                    }
                    catch (Exception e) when (!token.IsCancellationRequested)
                    {
                        // Tried again at the next tick.
                        ZooKeeperLog.LaunchMonitorFailed(_logger, e);
                    }
                }

                var ready = engines.Where(e => e.State == LaunchedEngineState.Ready).Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
                foreach (var (engineId, node) in _launched)
                {
                    if (ready.Contains(engineId))
                    {
                        continue;
                    }

                    try
                    {
                        await _client.RemoveOwnedAsync(node, token);
                        _launched.TryRemove(engineId, out _);
                        ZooKeeperLog.LaunchedEngineUnregistered(_logger, engineId, node.CurrentPath ?? node.RequestedPath);
                    }
                    catch (ZooKeeperException e)
                    {
                        ZooKeeperLog.LaunchMonitorFailed(_logger, e);
                    }
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
