using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace SparkConnect.Multiplexer.ZooKeeper.Client;

/// <summary>
/// A small async API over the ZooKeeper C client's asynchronous calls. One native handle (one ZooKeeper session) at a
/// time: when the session expires the handle is closed, a new one is opened (a new session), the nodes this client
/// owns (<see cref="CreateOwnedAsync"/>) are re-created, and the new-session listeners run (they re-arm their
/// watches). Within one session the C client itself reconnects after a connection loss and restores its watches.
/// Reads, deletes and creates are retried while the connection is lost, until the caller's token ends them.
/// </summary>
internal sealed class ZooKeeperClient : IAsyncDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly string _connectionString;
    private readonly TimeSpan _sessionTimeout;
    private readonly string? _libraryPath;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Channel<(nint Handle, int State)> _states = Channel.CreateUnbounded<(nint, int)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly List<OwnedNode> _owned = [];
    private readonly List<Func<CancellationToken, Task>> _sessionListeners = [];
    private readonly CancellationTokenSource _disposed = new();
    private readonly long _sessionWatcherId;
    private nint _handle;
    private long _sessionId;
    private byte[] _password = [];
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _reconnecting;
    private Task? _stateLoop;
    private Task? _reconnect;

    /// <summary>When the connection was lost (<see cref="Stopwatch"/> ticks); 0 while connected.</summary>
    private long _disconnectedSince = Stopwatch.GetTimestamp();
    private bool _watchdogRunning;

    public ZooKeeperClient(string connectionString, TimeSpan sessionTimeout, string? libraryPath, ILogger logger)
    {
        _connectionString = connectionString;
        _sessionTimeout = sessionTimeout;
        _libraryPath = libraryPath;
        _logger = logger;
        _sessionWatcherId = ZooKeeperNative.AddSessionWatcher((handle, state) => _states.Writer.TryWrite((handle, state)));
    }

    public string ConnectionString => _connectionString;

    /// <summary>The current session's id (0 before the first connection).</summary>
    public long SessionId => Interlocked.Read(ref _sessionId);

    /// <summary>The current session's password (to open the same session elsewhere, as tests do to expire it).</summary>
    public byte[] SessionPassword
    {
        get
        {
            lock (_gate)
            {
                return [.. _password];
            }
        }
    }

    /// <summary>How long the client has been without a connection to ZooKeeper; null while connected.</summary>
    public TimeSpan? DisconnectedFor
    {
        get
        {
            var since = Interlocked.Read(ref _disconnectedSince);
            return since == 0 ? null : Stopwatch.GetElapsedTime(since);
        }
    }

    /// <summary>How many sessions this client has had (1 after the first connection).</summary>
    public int SessionCount { get; private set; }

    /// <summary>Loads the native library and connects; throws when the first connection takes longer than <paramref name="timeout"/>.</summary>
    public async Task StartAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        Task connected;
        lock (_gate)
        {
            if (_stateLoop is null)
            {
                ZooKeeperNative.EnsureLoaded(_libraryPath);
                ZooKeeperNative.NativeLog ??= _logger;
                _handle = Open(_connectionString, _sessionTimeout, _sessionWatcherId);
                _stateLoop = Task.Run(StateLoopAsync, CancellationToken.None);
            }

            connected = _connected.Task;
        }

        try
        {
            await connected.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException e)
        {
            throw new InvalidOperationException(
                $"Could not connect to ZooKeeper at '{_connectionString}' within {timeout.TotalSeconds:0.#} s: check that ZooKeeper is running and reachable, and {ZooKeeperOptions.SectionName}:ConnectionString.",
                e);
        }
    }

    /// <summary>Runs after every new session but the first (after the owned nodes were re-created).</summary>
    public void OnNewSession(Func<CancellationToken, Task> listener)
    {
        lock (_sessionListeners)
        {
            _sessionListeners.Add(listener);
        }
    }

    /// <summary>Creates a node; returns its actual path (with the sequence number for sequential modes).</summary>
    public async Task<string> CreateAsync(string path, byte[]? data, int mode, bool createParents, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await RunAsync((handle, id) => ZooKeeperNative.Create(handle, path, data, mode, id), cancellationToken);
            if (result.Code == ZooKeeperNative.ZNoNode && createParents)
            {
                await EnsurePathAsync(Parent(path), cancellationToken);
                createParents = false;
                continue;
            }

            return result.Code == ZooKeeperNative.ZOk ? result.Value! : throw new ZooKeeperException(result.Code, "create", path);
        }
    }

    /// <summary>Creates every missing persistent node on <paramref name="path"/>.</summary>
    public async Task EnsurePathAsync(string path, CancellationToken cancellationToken)
    {
        if (path is "/" or "")
        {
            return;
        }

        var current = "";
        foreach (var segment in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current += "/" + segment;
            if (await ExistsAsync(current, null, cancellationToken) is not null)
            {
                continue;
            }

            try
            {
                await CreateAsync(current, null, ZooKeeperNative.Persistent, createParents: false, cancellationToken);
            }
            catch (ZooKeeperException e) when (e.Code == ZooKeeperNative.ZNodeExists)
            {
                // Created by someone else meanwhile.
            }
        }
    }

    /// <summary>Deletes a node (any version); false when it did not exist.</summary>
    public async Task<bool> DeleteAsync(string path, CancellationToken cancellationToken)
    {
        var result = await RunAsync((handle, id) => ZooKeeperNative.zoo_adelete(handle, path, -1, ZooKeeperNative.VoidCompletion, id), cancellationToken);
        return result.Code switch
        {
            ZooKeeperNative.ZOk => true,
            ZooKeeperNative.ZNoNode => false,
            _ => throw new ZooKeeperException(result.Code, "delete", path),
        };
    }

    /// <summary>The node's stat, or null when it does not exist; <paramref name="watcherId"/> (from <see cref="ZooKeeperNative.AddWatcher"/>) is told when it is created, changed or deleted.</summary>
    public async Task<ZooKeeperStat?> ExistsAsync(string path, long? watcherId, CancellationToken cancellationToken)
    {
        var result = await RunAsync((handle, id) => ZooKeeperNative.zoo_awexists(handle, path, Watcher(watcherId), (nint)(watcherId ?? 0), ZooKeeperNative.StatCompletion, id), cancellationToken);
        return result.Code switch
        {
            ZooKeeperNative.ZOk => result.Stat,
            ZooKeeperNative.ZNoNode => null,
            _ => throw new ZooKeeperException(result.Code, "exists", path),
        };
    }

    /// <summary>The node's data, or null when it does not exist.</summary>
    public async Task<byte[]?> GetDataAsync(string path, long? watcherId, CancellationToken cancellationToken)
    {
        var result = await RunAsync((handle, id) => ZooKeeperNative.zoo_awget(handle, path, Watcher(watcherId), (nint)(watcherId ?? 0), ZooKeeperNative.DataCompletion, id), cancellationToken);
        return result.Code switch
        {
            ZooKeeperNative.ZOk => result.Data,
            ZooKeeperNative.ZNoNode => null,
            _ => throw new ZooKeeperException(result.Code, "get", path),
        };
    }

    /// <summary>The node's children's names, or null when it does not exist; <paramref name="watcherId"/> is told when they change or the node is deleted.</summary>
    public async Task<string[]?> GetChildrenAsync(string path, long? watcherId, CancellationToken cancellationToken)
    {
        var result = await RunAsync((handle, id) => ZooKeeperNative.zoo_awget_children(handle, path, Watcher(watcherId), (nint)(watcherId ?? 0), ZooKeeperNative.StringsCompletion, id), cancellationToken);
        return result.Code switch
        {
            ZooKeeperNative.ZOk => result.Children,
            ZooKeeperNative.ZNoNode => null,
            _ => throw new ZooKeeperException(result.Code, "get-children", path),
        };
    }

    /// <summary>
    /// Creates an ephemeral node this client keeps: after a session expiry it is created again (sequential nodes get a
    /// new sequence number, see <see cref="OwnedNode.CurrentPath"/>), until <see cref="RemoveOwnedAsync"/>.
    /// </summary>
    public async Task<OwnedNode> CreateOwnedAsync(string path, byte[] data, bool sequential, CancellationToken cancellationToken)
    {
        var node = new OwnedNode(path, data, sequential ? ZooKeeperNative.EphemeralSequential : ZooKeeperNative.Ephemeral);
        lock (_owned)
        {
            _owned.Add(node);
        }

        try
        {
            node.CurrentPath = await CreateAsync(path, data, node.Mode, createParents: true, cancellationToken);
            return node;
        }
        catch
        {
            lock (_owned)
            {
                _owned.Remove(node);
            }

            throw;
        }
    }

    /// <summary>Deletes an owned node and stops re-creating it.</summary>
    public async Task RemoveOwnedAsync(OwnedNode node, CancellationToken cancellationToken)
    {
        lock (_owned)
        {
            _owned.Remove(node);
        }

        if (node.CurrentPath is { } path)
        {
            await DeleteAsync(path, cancellationToken);
        }
    }

    /// <summary>Ends a session from outside, the way a server does when it expires it (tests use it).</summary>
    public static async Task ExpireSessionAsync(string connectionString, long sessionId, byte[] password, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var watcherId = ZooKeeperNative.AddSessionWatcher((_, state) =>
        {
            if (state == ZooKeeperNative.ConnectedState)
            {
                connected.TrySetResult();
            }
        });
        var handle = OpenSession(connectionString, timeout, watcherId, sessionId, password);
        try
        {
            await connected.Task.WaitAsync(timeout, cancellationToken);
        }
        finally
        {
            await Task.Run(() => ZooKeeperNative.zookeeper_close(handle), CancellationToken.None);
            ZooKeeperNative.RemoveSessionWatcher(watcherId);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }
        await _disposed.CancelAsync();
        nint handle;
        lock (_gate)
        {
            handle = _handle;
            _handle = 0;
            _connected.TrySetException(new ObjectDisposedException(nameof(ZooKeeperClient)));
        }

        if (handle != 0)
        {
            // Closing ends the session: the server removes its ephemeral nodes at once.
            await Task.Run(() => ZooKeeperNative.zookeeper_close(handle), CancellationToken.None);
        }
        _states.Writer.TryComplete();
        if (_stateLoop is not null)
        {
            await _stateLoop;
        }

        if (_reconnect is not null)
        {
            await _reconnect.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        ZooKeeperNative.RemoveSessionWatcher(_sessionWatcherId);
        _disposed.Dispose();
    }

    private static nint Watcher(long? watcherId) => watcherId is null ? 0 : ZooKeeperNative.WatcherCallback;

    private static string Parent(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash <= 0 ? "/" : path[..slash];
    }

    private static unsafe nint OpenSession(string connectionString, TimeSpan sessionTimeout, long watcherId, long sessionId, byte[] password)
    {
        var clientId = default(ZooKeeperNative.ClientId);
        clientId.SessionId = sessionId;
        for (var i = 0; i < 16 && i < password.Length; i++)
        {
            clientId.Password[i] = password[i];
        }

        return Open(connectionString, sessionTimeout, watcherId, &clientId);
    }

    private static unsafe nint Open(string connectionString, TimeSpan sessionTimeout, long watcherId) => Open(connectionString, sessionTimeout, watcherId, null);

    private static unsafe nint Open(string connectionString, TimeSpan sessionTimeout, long watcherId, ZooKeeperNative.ClientId* clientId)
    {
        var handle = ZooKeeperNative.zookeeper_init2(
            connectionString,
            ZooKeeperNative.SessionCallback,
            (int)sessionTimeout.TotalMilliseconds,
            clientId,
            (nint)watcherId,
            0,
            ZooKeeperNative.LogCallback);
        return handle != 0
            ? handle
            : throw new InvalidOperationException($"The ZooKeeper C client rejected the connection string '{connectionString}': use host:port[,host:port...][/chroot] ({ZooKeeperOptions.SectionName}:ConnectionString).");
    }

    /// <summary>Submits a call on the current handle and waits for its completion; retries while the connection or session is being restored.</summary>
    private async Task<ZooKeeperResult> RunAsync(Func<nint, nint, int> start, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
            Task ready;
            lock (_gate)
            {
                ready = _connected.Task;
            }

            if (!ready.IsCompletedSuccessfully)
            {
                await ready.WaitAsync(cancellationToken);
            }

            var (id, completion) = ZooKeeperNative.NewPending();
            int code;
            lock (_gate)
            {
                // Under the lock: the handle cannot be closed while a call is being submitted on it.
                code = _handle == 0 ? ZooKeeperNative.ZInvalidState : start(_handle, (nint)id);
            }

            ZooKeeperResult result;
            if (code != ZooKeeperNative.ZOk)
            {
                ZooKeeperNative.DropPending(id);
                result = new ZooKeeperResult(code);
            }
            else
            {
                try
                {
                    result = await completion.WaitAsync(cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    ZooKeeperNative.DropPending(id);
                    throw;
                }
            }

            if (result.Code is ZooKeeperNative.ZConnectionLoss or ZooKeeperNative.ZOperationTimeout or ZooKeeperNative.ZSessionExpired
                or ZooKeeperNative.ZInvalidState or ZooKeeperNative.ZClosing or ZooKeeperNative.ZSessionMoved
                && !_disposed.IsCancellationRequested)
            {
                await Task.Delay(RetryDelay, cancellationToken);
                continue;
            }

            return result;
        }
    }

    private async Task StateLoopAsync()
    {
        await foreach (var (handle, state) in _states.Reader.ReadAllAsync())
        {
            try
            {
                HandleState(handle, state);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                ZooKeeperLog.ReconnectFailed(_logger, e);
            }
        }
    }

    private unsafe void HandleState(nint handle, int state)
    {
        var expired = false;
        var lost = false;
        long sessionId = 0;
        lock (_gate)
        {
            if (handle != _handle || _disposed.IsCancellationRequested)
            {
                return;
            }

            if (state == ZooKeeperNative.ConnectedState || state == ZooKeeperNative.ReadOnlyState)
            {
                Interlocked.Exchange(ref _disconnectedSince, 0);
                var clientId = ZooKeeperNative.zoo_client_id(handle);
                var newSession = clientId->SessionId != _sessionId;
                _sessionId = clientId->SessionId;
                _password = new ReadOnlySpan<byte>(clientId->Password, 16).ToArray();
                if (newSession)
                {
                    SessionCount++;
                    ZooKeeperLog.Connected(_logger, _connectionString, _sessionId);
                }

                _connected.TrySetResult();
            }
            else if (state == ZooKeeperNative.ExpiredSessionState || state == ZooKeeperNative.AuthFailedState)
            {
                if (!_reconnecting)
                {
                    expired = true;
                    sessionId = AbandonSession();
                }
            }
            else
            {
                // Connecting again: the C client retries the servers by itself, but only with the session it had.
                lost = Interlocked.CompareExchange(ref _disconnectedSince, Stopwatch.GetTimestamp(), 0) == 0;
                if (!_watchdogRunning)
                {
                    _watchdogRunning = true;
                    _ = Task.Run(() => WatchDisconnectionAsync(handle), CancellationToken.None);
                }
            }
        }

        if (expired)
        {
            ZooKeeperLog.SessionExpired(_logger, sessionId);
            _reconnect = Task.Run(() => ReconnectAsync(handle), CancellationToken.None);
        }
        else if (lost)
        {
            ZooKeeperLog.ConnectionLost(_logger, _connectionString, _sessionTimeout.TotalSeconds);
        }
        else
        {
            ZooKeeperLog.StateChanged(_logger, StateName(state));
        }
    }

    /// <summary>Marks the current session as given up and the client as reconnecting (under the lock); returns the session id.</summary>
    private long AbandonSession()
    {
        _reconnecting = true;
        _handle = 0;
        _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _disconnectedSince, Stopwatch.GetTimestamp());
        return _sessionId;
    }

    /// <summary>
    /// Gives the session up when the connection has been lost for longer than the session timeout — by then the
    /// ensemble has expired it anyway — and opens a new one. The C client alone would retry the old session for ever;
    /// against an ensemble restored with an empty data directory it never gets in ("client has seen zxid 0x23, our
    /// last zxid is 0x1"), since only a new session starts from zxid 0.
    /// </summary>
    private async Task WatchDisconnectionAsync(nint handle)
    {
        var token = _disposed.Token;
        while (true)
        {
            TimeSpan wait;
            lock (_gate)
            {
                var since = Interlocked.Read(ref _disconnectedSince);
                if (handle != _handle || _reconnecting || since == 0 || token.IsCancellationRequested)
                {
                    _watchdogRunning = false;
                    return;
                }

                var disconnected = Stopwatch.GetElapsedTime(since);
                wait = _sessionTimeout - disconnected;
                if (wait <= TimeSpan.Zero)
                {
                    var sessionId = AbandonSession();
                    _watchdogRunning = false;
                    ZooKeeperLog.SessionAbandoned(_logger, sessionId, disconnected.TotalSeconds, _connectionString);
                    _reconnect = Task.Run(() => ReconnectAsync(handle), CancellationToken.None);
                    return;
                }
            }

            try
            {
                await Task.Delay(wait, token);
            }
            catch (OperationCanceledException)
            {
                lock (_gate)
                {
                    _watchdogRunning = false;
                }

                return;
            }
        }
    }

    private async Task ReconnectAsync(nint expiredHandle)
    {
        // Never on the library's own threads: closing joins them.
        _ = ZooKeeperNative.zookeeper_close(expiredHandle);
        var token = _disposed.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                Task connected;
                lock (_gate)
                {
                    if (_disposed.IsCancellationRequested)
                    {
                        return;
                    }

                    _handle = Open(_connectionString, _sessionTimeout, _sessionWatcherId);
                    connected = _connected.Task;
                }

                // The new handle keeps trying the servers until one answers.
                await connected.WaitAsync(token);
                break;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is InvalidOperationException)
            {
                ZooKeeperLog.ReconnectFailed(_logger, e);
                await Task.Delay(TimeSpan.FromSeconds(1), token).ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }

        lock (_gate)
        {
            _reconnecting = false;
        }

        List<OwnedNode> owned;
        lock (_owned)
        {
            owned = [.. _owned];
        }

        // Owned nodes first, so a listener re-reading a space finds this client's own nodes in it.
        foreach (var node in owned)
        {
            try
            {
                node.CurrentPath = await CreateAsync(node.RequestedPath, node.Data, node.Mode, createParents: true, token);
            }
            catch (ZooKeeperException e) when (e.Code == ZooKeeperNative.ZNodeExists)
            {
                // A plain ephemeral node of the old session not yet removed: it goes with that session.
            }
            catch (Exception e) when (e is ZooKeeperException or OperationCanceledException)
            {
                ZooKeeperLog.RecreateFailed(_logger, node.RequestedPath, e);
            }
        }

        List<Func<CancellationToken, Task>> listeners;
        lock (_sessionListeners)
        {
            listeners = [.. _sessionListeners];
        }

        foreach (var listener in listeners)
        {
            try
            {
                await listener(token);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                ZooKeeperLog.ReconnectFailed(_logger, e);
            }
        }

        ZooKeeperLog.SessionRestored(_logger, SessionId, owned.Count);
    }

    private static string StateName(int state) => state switch
    {
        1 => "connecting",
        2 => "associating",
        3 => "connected",
        5 => "read-only",
        999 => "not connected",
        _ => state.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>An ephemeral node a <see cref="ZooKeeperClient"/> keeps across sessions.</summary>
internal sealed class OwnedNode(string requestedPath, byte[] data, int mode)
{
    private volatile string? _currentPath;

    public string RequestedPath { get; } = requestedPath;

    public byte[] Data { get; } = data;

    public int Mode { get; } = mode;

    /// <summary>The node's actual path in the current session.</summary>
    public string? CurrentPath
    {
        get => _currentPath;
        set => _currentPath = value;
    }
}
