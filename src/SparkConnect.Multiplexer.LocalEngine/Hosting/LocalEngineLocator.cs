using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.LocalEngine.Internal;

namespace SparkConnect.Multiplexer.LocalEngine.Hosting;

/// <summary>
/// Starts one embedded engine per engine key on first use (single flight: concurrent first requests share one
/// start), each on a free loopback port with its own random access token and its own data directory; refuses a
/// start past <see cref="LocalEngineOptions.MaxEngines"/> or <see cref="LocalEngineOptions.MaxEnginesPerUser"/>;
/// stops engines that have had no session for <see cref="LocalEngineOptions.EngineIdleTimeout"/> (as the process
/// launcher does), and all of them when the host disposes it. A stopped engine is forgotten everywhere: here, and
/// in the gateway's endpoint registry, so that sessions still bound to it are told once that it is gone.
/// </summary>
internal sealed class LocalEngineLocator : IEngineLocator, ILaunchedEngines, IAsyncDisposable
{
    private readonly IOptions<LocalEngineOptions> _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ISessionStore? _store;
    private readonly IEngineLifecycle? _lifecycle;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();

    private readonly Lock _gate = new();
    private readonly Dictionary<EngineKey, Entry> _current = [];
    private readonly HashSet<Entry> _live = [];
    private bool _disposed;

    public LocalEngineLocator(IOptions<LocalEngineOptions> options, ILoggerFactory loggerFactory, ISessionStore? store = null, IEngineLifecycle? lifecycle = null, TimeProvider? time = null)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<LocalEngineLocator>();
        _store = store;
        _lifecycle = lifecycle;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>How many engines are starting, running or stopping.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _live.Count;
            }
        }
    }

    public async ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var options = _options.Value;
        var user = request.Principal.UserName;
        Entry entry;
        Entry? lost = null;
        EngineGoneEventArgs? loss = null;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_current.TryGetValue(request.Key, out var current) && current.Start.IsCompletedSuccessfully && _lifecycle is not null && _lifecycle.IsGone(current.Id, out loss))
            {
                // Reported lost by someone else (a health probe, a third party): never handed out again.
                TakeOutOfService(current);
                lost = current;
                current = null;
            }

            if (current is null)
            {
                if (!request.MayLaunch)
                {
                    throw new EngineNotRunningException(request.Key);
                }

                if (_live.Count >= options.MaxEngines)
                {
                    EngineLog.LocatorRefused(_logger, request.Key.ToString(), user, "MaxEngines", options.MaxEngines);
                    throw new EngineLocationException(
                        $"No local engine can be started for {request.Key}: this gateway already runs its maximum of {options.MaxEngines} local engine(s) ({LocalEngineOptions.SectionName}:MaxEngines). Reuse an existing session or engine, or retry when idle engines have stopped.",
                        StatusCode.ResourceExhausted);
                }

                var mine = _live.Count(e => e.User == user);
                if (mine >= options.MaxEnginesPerUser)
                {
                    EngineLog.LocatorRefused(_logger, request.Key.ToString(), user, "MaxEnginesPerUser", options.MaxEnginesPerUser);
                    throw new EngineLocationException(
                        $"No local engine can be started for {request.Key}: user '{user}' already has {mine} local engine(s), the maximum ({LocalEngineOptions.SectionName}:MaxEnginesPerUser = {options.MaxEnginesPerUser}). Use fewer subdomains or CONNECTION-level sessions, release sessions you no longer need, or retry when idle engines have stopped.",
                        StatusCode.ResourceExhausted);
                }

                current = new Entry(request.Key, user, $"local:{request.Key}:{Guid.NewGuid().ToString("N")[..8]}") { StartedAt = _time.GetUtcNow() };
                _current[request.Key] = current;
                _live.Add(current);
                current.Start = Task.Run(() => StartAsync(current, options), CancellationToken.None);
            }

            current.LastUsed = _time.GetUtcNow();
            entry = current;
        }

        if (lost is not null)
        {
            EngineLog.LocatorStoppingLost(_logger, lost.Id, lost.Key.ToString(), loss!.Reason);
            _ = StopAsync(lost, loss.Reason, report: false);
        }

        // One caller giving up must not cancel the start the others wait for.
        var endpoint = await entry.Start.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            entry.LastUsed = _time.GetUtcNow();
        }

        return endpoint;
    }

    public IReadOnlyList<LaunchedEngineInfo> LaunchedEngines
    {
        get
        {
            lock (_gate)
            {
                return [.. _live.Select(e => new LaunchedEngineInfo
                {
                    Id = e.Id,
                    Key = e.Key,
                    Address = e.Engine?.Address,
                    State = e.Stopping ? LaunchedEngineState.Stopping : e.Start.IsCompletedSuccessfully ? LaunchedEngineState.Ready : LaunchedEngineState.Starting,
                    StartedAt = e.StartedAt,
                    LastUsed = e.LastUsed,
                    LaunchedBy = e.User,
                })];
            }
        }
    }

    public async Task<bool> StopEngineAsync(string engineId, string reason, CancellationToken cancellationToken)
    {
        Entry? entry;
        lock (_gate)
        {
            entry = _live.FirstOrDefault(e => e.Id == engineId && !e.Stopping && e.Start.IsCompletedSuccessfully);
            if (entry is null)
            {
                return false;
            }

            TakeOutOfService(entry);
        }

        await StopAsync(entry, reason).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Stops engines that have had no session in the session store (and no new session located) for
    /// <see cref="LocalEngineOptions.EngineIdleTimeout"/>.
    /// </summary>
    /// <returns>How many engines were stopped.</returns>
    public async Task<int> CheckIdleAsync(CancellationToken cancellationToken)
    {
        var idleTimeout = _options.Value.EngineIdleTimeout;
        var sessions = new Dictionary<string, int>(StringComparer.Ordinal);
        if (_store is not null)
        {
            await foreach (var session in _store.ListAsync(cancellationToken).ConfigureAwait(false))
            {
                sessions[session.EngineId] = sessions.GetValueOrDefault(session.EngineId) + 1;
            }
        }

        var now = _time.GetUtcNow();
        var stops = new List<(Entry Entry, TimeSpan Idle)>();
        lock (_gate)
        {
            if (_disposed)
            {
                return 0;
            }

            foreach (var entry in _live)
            {
                if (entry.Stopping || !entry.Start.IsCompletedSuccessfully)
                {
                    continue;
                }

                if (sessions.ContainsKey(entry.Id))
                {
                    entry.LastUsed = now;
                }
                else if (now - entry.LastUsed >= idleTimeout)
                {
                    // Out of service under the lock: no new session is handed an engine that is stopping.
                    TakeOutOfService(entry);
                    stops.Add((entry, now - entry.LastUsed));
                }
            }
        }

        foreach (var (entry, idle) in stops)
        {
            EngineLog.LocatorStoppingIdle(_logger, entry.Id, entry.Key.ToString(), idle);
            await StopAsync(entry, $"no session for {idleTimeout}").ConfigureAwait(false);
        }

        return stops.Count;
    }

    private async Task<EngineEndpoint> StartAsync(Entry entry, LocalEngineOptions options)
    {
        try
        {
            var token = EngineAccessToken.Create();
            var dataDirectory = options.DataDirectory is { } root ? Path.Combine(Path.GetFullPath(root), DirectoryNameOf(entry.Key)) : null;
            var engine = await LocalSparkConnectEngine.StartCoreAsync(options, new LocalEngineListenOptions { AccessToken = token }, dataDirectory, _loggerFactory, _stopping.Token).ConfigureAwait(false);
            entry.Engine = engine;
            entry.DataDirectory = dataDirectory;
            EngineLog.LocatorStarted(_logger, entry.Id, entry.Key.ToString(), engine.Address);
            return new EngineEndpoint(entry.Id, engine.Address) { AccessToken = token };
        }
        catch (Exception error)
        {
            // A failed start is forgotten so that the next request tries again.
            lock (_gate)
            {
                TakeOutOfService(entry);
                _live.Remove(entry);
            }

            if (error is EngineLocationException)
            {
                throw;
            }

            throw new EngineLocationException($"The local engine for {entry.Key} could not be started: {error.Message}", StatusCode.Unavailable, error);
        }
    }

    private void TakeOutOfService(Entry entry)
    {
        entry.Stopping = true;
        if (_current.TryGetValue(entry.Key, out var current) && current == entry)
        {
            _current.Remove(entry.Key);
        }
    }

    private async Task StopAsync(Entry entry, string reason, bool report = true)
    {
        // Sessions still bound to it are told once that it is gone, and its endpoint (with its token) is forgotten;
        // an engine already reported lost keeps that report.
        if (report)
        {
            _lifecycle?.ReportStopped(entry.Id, reason);
        }

        try
        {
            if (entry.Engine is { } engine)
            {
                await engine.DisposeAsync().ConfigureAwait(false);
            }

            DeleteIfEmpty(entry.DataDirectory);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            EngineLog.LocatorStopFailed(_logger, entry.Id, error);
        }
        finally
        {
            lock (_gate)
            {
                _live.Remove(entry);
            }
        }
    }

    /// <summary>A directory name made of the engine key: the same user and subdomain find their files again.</summary>
    internal static string DirectoryNameOf(EngineKey key)
    {
        var name = new System.Text.StringBuilder();
        foreach (var c in key.ToString())
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_');
        }

        return name.ToString();
    }

    private static void DeleteIfEmpty(string? directory)
    {
        if (directory is null)
        {
            return;
        }

        foreach (var path in new[] { Path.Combine(directory, ".tmp"), directory })
        {
            try
            {
                if (Directory.Exists(path) && !Directory.EnumerateFileSystemEntries(path).Any())
                {
                    Directory.Delete(path);
                }
            }
            catch (IOException)
            {
                // Something was written meanwhile: it stays.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<Entry> all;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            all = [.. _live];
            foreach (var entry in all)
            {
                TakeOutOfService(entry);
            }
        }

        // Starts still under way end (and forget their entry) on their own.
        await _stopping.CancelAsync().ConfigureAwait(false);

        foreach (var entry in all)
        {
            try
            {
                await entry.Start.ConfigureAwait(false);
            }
            catch (Exception error) when (error is not OutOfMemoryException)
            {
                // A start cut short by the shutdown has nothing to stop.
                continue;
            }

            await StopAsync(entry, "the gateway is stopping").ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    /// <summary>One engine: its key, the user whose session started it (for the per-user cap), and its start.</summary>
    private sealed class Entry(EngineKey key, string user, string id)
    {
        public EngineKey Key { get; } = key;

        public string User { get; } = user;

        public string Id { get; } = id;

        /// <summary>Set (under the locator's lock) before the entry can be seen by anyone else.</summary>
        public Task<EngineEndpoint> Start { get; set; } = null!;

        public LocalSparkConnectEngine? Engine { get; set; }

        public string? DataDirectory { get; set; }

        public DateTimeOffset LastUsed { get; set; }

        public DateTimeOffset StartedAt { get; init; }

        public bool Stopping { get; set; }
    }
}

/// <summary>
/// Checks the embedded engines for idleness every <see cref="LocalEngineOptions.IdleCheckInterval"/>, and stops them
/// all when the host stops (before the container disposes the locator).
/// </summary>
internal sealed class LocalEngineShutdown(IEngineLocator locator, IOptions<LocalEngineOptions> options, TimeProvider time, ILogger<LocalEngineShutdown> logger) : Microsoft.Extensions.Hosting.BackgroundService
{
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (locator is LocalEngineLocator local)
        {
            await local.DisposeAsync().AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (locator is not LocalEngineLocator local)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(options.Value.IdleCheckInterval, time, stoppingToken).ConfigureAwait(false);
            try
            {
                await local.CheckIdleAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception error) when (error is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                EngineLog.LocatorIdleCheckFailed(logger, error);
            }
        }
    }
}

/// <summary>Validates <see cref="LocalEngineOptions"/> at host start, reporting every problem at once.</summary>
internal sealed class LocalEngineOptionsValidator : IValidateOptions<LocalEngineOptions>
{
    public ValidateOptionsResult Validate(string? name, LocalEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        // Within the gateway the section is SparkConnectGateway:LocalEngine: name keys with their full path.
        var errors = options.Validate()
            .Select(e => e.StartsWith("LocalEngine:", StringComparison.Ordinal) ? $"{SparkConnectGatewayOptions.SectionName}:{e}" : e)
            .ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
