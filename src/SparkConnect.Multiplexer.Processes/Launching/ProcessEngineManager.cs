using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Processes.Engines;
using SparkConnect.Multiplexer.Processes.Internal;

namespace SparkConnect.Multiplexer.Processes.Launching;

/// <summary>
/// Launches one engine process per engine key, single flight, within the global limits; hands the running one out;
/// forgets engines whose process exits (their sessions are told "engine lost"); stops idle and retired engines, and
/// all of them when the gateway stops.
/// </summary>
internal sealed class ProcessEngineManager : IAsyncDisposable
{
    private static readonly TimeSpan MaxProbeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How many of the started process ids are remembered for <see cref="StartedProcessIds"/>.</summary>
    private const int RememberedProcessIds = 1024;

    /// <summary>How much of each engine log line a failure message shows.</summary>
    private const int MaxTailLineLength = 1000;

    /// <summary>How the ids of launched engines start (other replicas recognise them in ZooKeeper by it).</summary>
    private const string EngineIdPrefix = "process:";

    private readonly IOptionsMonitor<ProcessEngineOptions> _options;
    private readonly IEngineLauncherServices _gateway;
    private readonly IEngineLifecycle _lifecycle;
    private readonly ISessionStore _store;
    private readonly TimeProvider _time;
    private readonly ProcessEngineMetrics _metrics;
    private readonly ILogger<ProcessEngineManager> _logger;
    private readonly IRemoteEngineUse[] _remoteUse;

    private readonly Lock _gate = new();
    private readonly Dictionary<EngineKey, LaunchedEngine> _current = [];
    private readonly HashSet<LaunchedEngine> _live = [];
    private readonly SemaphoreSlim _launchSlots;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly ConcurrentQueue<int> _startedProcessIds = new();
    private readonly Dictionary<EngineKey, LaunchFailures> _failures = [];
    private Task? _stopAll;

    public ProcessEngineManager(
        IOptionsMonitor<ProcessEngineOptions> options,
        IEngineLauncherServices gateway,
        IEngineLifecycle lifecycle,
        ISessionStore store,
        TimeProvider time,
        ProcessEngineMetrics metrics,
        ILogger<ProcessEngineManager> logger,
        IEnumerable<IRemoteEngineUse>? remoteUse = null)
    {
        _remoteUse = remoteUse?.ToArray() ?? [];
        _options = options;
        _gateway = gateway;
        _lifecycle = lifecycle;
        _store = store;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        var slots = Math.Max(1, options.CurrentValue.MaxConcurrentLaunches);
        _launchSlots = new SemaphoreSlim(slots, slots);
    }

    /// <summary>The ids of the last 1,024 processes this manager started (tests use it to clean up whatever happens).</summary>
    public IReadOnlyCollection<int> StartedProcessIds => [.. _startedProcessIds];

    /// <summary>A snapshot of the engines starting, running or stopping.</summary>
    public IReadOnlyList<LaunchedEngine> Engines
    {
        get
        {
            lock (_gate)
            {
                return [.. _live];
            }
        }
    }

    /// <summary>
    /// The running (or starting) engine for the request's key, launched first when there is none and the request
    /// may launch (<see cref="EngineRequest.MayLaunch"/>; such a request also keeps an engine past its lifetime, which
    /// still holds the sessions it has).
    /// </summary>
    /// <exception cref="EngineLocationException">
    /// UNAVAILABLE when the engine failed to start, RESOURCE_EXHAUSTED over <see cref="ProcessEngineOptions.MaxEngines"/>
    /// or <see cref="ProcessEngineOptions.MaxEnginesPerUser"/>.
    /// </exception>
    /// <exception cref="EngineNotRunningException">No engine runs for the key and the request may not launch one.</exception>
    public async ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var options = _options.CurrentValue;
        var now = _time.GetUtcNow();
        LaunchedEngine engine;
        LaunchedEngine? lost = null;
        string? lostReason = null;
        lock (_gate)
        {
            if (_stopAll is not null)
            {
                throw new EngineLocationException("The gateway is shutting down and launches no more engines; retry shortly.", StatusCode.Unavailable);
            }

            if (_current.TryGetValue(request.Key, out var current) && current.State == LaunchedEngineState.Ready)
            {
                if (_lifecycle.IsGone(current.Id, out var loss))
                {
                    // Found dead by someone else (a health probe): never hand it out again.
                    _current.Remove(request.Key);
                    lost = current;
                    lostReason = loss.Reason;
                    current = null;
                }
                else if (request.MayLaunch && IsPastLifetime(current, options, now))
                {
                    Retire(current, options);
                    current = null;
                }
            }

            if (current is null)
            {
                if (!request.MayLaunch)
                {
                    throw new EngineNotRunningException(request.Key);
                }

                ThrowWhenBackingOff(request.Key, options, now);
                ThrowWhenAtCapacity(request, options);
                current = new LaunchedEngine(NewEngineId(request.Key), request.Key, now, request.Principal.UserName);
                _current[request.Key] = current;
                _live.Add(current);
                current.Launch = Task.Run(() => LaunchAsync(current, request), CancellationToken.None);
            }

            engine = current;
        }

        if (lost is not null)
        {
            ProcessEngineLog.ReportedLost(_logger, lost.Id, lost.Key, lostReason!);
            _ = StopAsync(lost, "reported lost: " + lostReason, "lost", CancellationToken.None);
        }

        // Each waiter's cancellation ends only its own wait; the launch goes on for the others.
        var endpoint = await engine.Ready.Task.WaitAsync(cancellationToken);
        engine.Touch(_time.GetUtcNow());
        return endpoint;
    }

    /// <summary>
    /// The token to present to engine <paramref name="engineId"/> when the launch templates pass engines one
    /// (<c>{engineToken}</c>): the one this gateway made for an engine it runs, else, for an engine another replica
    /// launched (its id made by <see cref="NewEngineId"/>), the one derived from
    /// <see cref="ProcessEngineOptions.EngineTokenSecret"/>; null when engines get no token or no secret is set.
    /// </summary>
    public string? AccessTokenFor(string engineId)
    {
        var options = _options.CurrentValue;
        if (!EngineCommandLine.UsesEngineToken(options))
        {
            return null;
        }

        lock (_gate)
        {
            if (_live.FirstOrDefault(e => e.Id == engineId) is { Endpoint: { } endpoint })
            {
                return endpoint.AccessToken;
            }
        }

        return IsLaunchedEngineId(engineId) && options.EngineTokenSecret is { Length: > 0 } secret
            ? EngineAccessToken.Derive(secret, engineId)
            : null;
    }

    /// <summary>
    /// Stops engines that have had no session for <see cref="ProcessEngineOptions.EngineIdleTimeout"/>, retires
    /// engines past their lifetime and stops retired ones without sessions, and stops engines reported lost. An engine
    /// another replica has sessions on (<see cref="IRemoteEngineUse"/>) counts as used, and so does one whose use
    /// cannot be told.
    /// </summary>
    public async Task CheckIdleAsync(CancellationToken cancellationToken)
    {
        var options = _options.CurrentValue;
        var sessions = new Dictionary<string, int>(StringComparer.Ordinal);
        await foreach (var session in _store.ListAsync(cancellationToken))
        {
            sessions[session.EngineId] = sessions.GetValueOrDefault(session.EngineId) + 1;
        }

        var now = _time.GetUtcNow();
        var stops = new List<(LaunchedEngine Engine, string Reason, string Metric)>();
        var unused = new List<(LaunchedEngine Engine, string Reason, string Metric)>();
        lock (_gate)
        {
            foreach (var engine in _live)
            {
                if (engine.State is not (LaunchedEngineState.Ready or LaunchedEngineState.Retired))
                {
                    continue;
                }

                var count = sessions.GetValueOrDefault(engine.Id);
                if (count > 0)
                {
                    engine.Touch(now);
                }

                if (_lifecycle.IsGone(engine.Id, out var loss))
                {
                    stops.Add((engine, "reported lost: " + loss.Reason, "lost"));
                    continue;
                }

                if (engine.State == LaunchedEngineState.Ready && IsPastLifetime(engine, options, now))
                {
                    Retire(engine, options);
                }

                if (count > 0)
                {
                    continue;
                }

                if (engine.State == LaunchedEngineState.Retired)
                {
                    unused.Add((engine, "maximum lifetime reached and no session left", "lifetime"));
                }
                else if (now - engine.LastUsed >= options.EngineIdleTimeout)
                {
                    unused.Add((engine, $"no session for {options.EngineIdleTimeout}", "idle"));
                }
            }
        }

        var elsewhere = await InUseElsewhereAsync(unused.Select(u => u.Engine.Id).ToList(), cancellationToken);
        lock (_gate)
        {
            foreach (var candidate in unused)
            {
                var engine = candidate.Engine;
                if (elsewhere.Contains(engine.Id))
                {
                    // Sessions through another replica: as used as one of ours.
                    engine.Touch(now);
                    continue;
                }

                // Handed to a new session meanwhile (touched after this check began), or already stopping.
                if (engine.State is not (LaunchedEngineState.Ready or LaunchedEngineState.Retired)
                    || (candidate.Metric == "idle" && now - engine.LastUsed < options.EngineIdleTimeout))
                {
                    continue;
                }

                if (candidate.Metric == "idle")
                {
                    ProcessEngineLog.StoppingIdle(_logger, engine.Id, engine.Key, now - engine.LastUsed);
                }

                stops.Add(candidate);
            }

            // Taken out of service under the lock, so no new session is handed one of them; one that a concurrent
            // check took out meanwhile is left to it.
            stops.RemoveAll(s => s.Engine.State is not (LaunchedEngineState.Ready or LaunchedEngineState.Retired));
            foreach (var (engine, _, _) in stops)
            {
                TakeOutOfService(engine);
            }
        }

        await Task.WhenAll(stops.Select(s => StopTakenAsync(s.Engine, s.Reason, s.Metric, cancellationToken)));
    }

    /// <summary>Of the engines, those other replicas use; all of them when that cannot be told.</summary>
    private async Task<IReadOnlySet<string>> InUseElsewhereAsync(List<string> engineIds, CancellationToken cancellationToken)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        if (engineIds.Count == 0)
        {
            return used;
        }

        foreach (var source in _remoteUse)
        {
            try
            {
                used.UnionWith(await source.InUseElsewhereAsync(engineIds, cancellationToken));
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Stopping an engine users work on through another replica is worse than keeping an idle one a while.
                ProcessEngineLog.RemoteUseUnknown(_logger, engineIds.Count, e);
                return engineIds.ToHashSet(StringComparer.Ordinal);
            }
        }

        return used;
    }

    /// <summary>
    /// Deals with the engines left running under <see cref="ProcessEngineOptions.WorkingDirectory"/> by a gateway that
    /// is gone (killed before it could stop them) or that handed them over when it stopped: one that sessions still use
    /// (in a session store that outlives a gateway, or through another replica) and that answers is adopted — served
    /// and stopped when idle like one launched here; every other one is stopped, since nothing else ever would.
    /// </summary>
    /// <returns>How many were adopted and how many stopped.</returns>
    public async Task<(int Adopted, int Stopped)> AdoptOrStopOrphansAsync(CancellationToken cancellationToken)
    {
        var options = _options.CurrentValue;
        var orphans = EngineWorkDirectories.FindOrphans(Path.GetFullPath(options.WorkingDirectory));
        if (orphans.Count == 0)
        {
            return (0, 0);
        }

        var used = await SessionEngineIdsAsync(cancellationToken);
        used.UnionWith(await InUseElsewhereAsync([.. orphans.Select(o => o.State.EngineId).Where(id => !used.Contains(id))], cancellationToken));
        var adopted = 0;
        foreach (var (directory, state) in orphans)
        {
            if (used.Contains(state.EngineId) && await TryAdoptAsync(directory, state, options, cancellationToken))
            {
                adopted++;
                continue;
            }

            ProcessEngineLog.StoppingOrphan(_logger, state.EngineId, state.ProcessId, state.GatewayProcessId, directory);
            await EngineWorkDirectories.StopAsync(state, options.StopGracePeriod, cancellationToken);
        }

        return (adopted, orphans.Count - adopted);
    }

    /// <summary>The ids of the engines the session store has sessions on.</summary>
    private async Task<HashSet<string>> SessionEngineIdsAsync(CancellationToken cancellationToken)
    {
        var engines = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var session in _store.ListAsync(cancellationToken))
        {
            engines.Add(session.EngineId);
        }

        return engines;
    }

    /// <summary>Serves an orphaned engine as if launched here, when its state file says enough and it answers.</summary>
    private async Task<bool> TryAdoptAsync(string directory, EngineDirectoryState state, ProcessEngineOptions options, CancellationToken cancellationToken)
    {
        if (state.Key is not { } key || !Uri.TryCreate(state.Address, UriKind.Absolute, out var address))
        {
            ProcessEngineLog.NotAdopted(_logger, state.EngineId, "its state file does not say where it listens (written by an older version)");
            return false;
        }

        string? token = null;
        if (EngineCommandLine.UsesEngineToken(options))
        {
            if (options.EngineTokenSecret is not { Length: > 0 } secret)
            {
                ProcessEngineLog.NotAdopted(_logger, state.EngineId, $"its token was random and died with its gateway; set {ProcessEngineOptions.SectionName}:EngineTokenSecret so engines can be adopted");
                return false;
            }

            token = EngineAccessToken.Derive(secret, state.EngineId);
        }

        var endpoint = new EngineEndpoint(state.EngineId, address) { AccessToken = token };
        var probeTimeout = options.InitializationTimeout < MaxProbeTimeout ? options.InitializationTimeout : MaxProbeTimeout;
        var healthy = await _gateway.ProbeAsync(endpoint, Guid.NewGuid().ToString(), probeTimeout, cancellationToken);
        if (!healthy)
        {
            ProcessEngineLog.NotAdopted(_logger, state.EngineId, $"it does not answer at {address}");
            return false;
        }

        var process = EngineProcess.Adopt(state, directory);
        if (process is null)
        {
            return false;
        }

        var now = _time.GetUtcNow();
        var engine = new LaunchedEngine(state.EngineId, key, now, state.LaunchedBy ?? "")
        {
            Adopted = true,
            State = LaunchedEngineState.Ready,

            // Its lifetime runs from its start, not from the adoption.
            ReadyAt = state.ProcessStartedAt,
            Endpoint = endpoint,
            Process = process,
        };
        lock (_gate)
        {
            var known = _live.Any(e => e.Id == engine.Id);
            if (_stopAll is not null || known)
            {
                process.Release();
                return known;
            }

            _live.Add(engine);
            if (!_current.TryGetValue(key, out var current) || current.State != LaunchedEngineState.Ready)
            {
                _current[key] = engine;
            }
        }

        try
        {
            EngineWorkDirectories.MarkAdopted(directory, state);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ProcessEngineLog.StateNotWritten(_logger, engine.Id, directory, e);
        }

        _metrics.ProcessStarted();
        engine.Ready.TrySetResult(endpoint);
        _ = WatchAsync(engine, process);
        ProcessEngineLog.Adopted(_logger, engine.Id, key, address, state.ProcessId, state.GatewayProcessId);
        return true;
    }

    /// <summary>Deletes the working directories of ended engines older than <see cref="ProcessEngineOptions.WorkDirectoryRetention"/>.</summary>
    public int DeleteExpiredWorkDirectories()
    {
        var options = _options.CurrentValue;
        if (options.WorkDirectoryRetention is not { } retention)
        {
            return 0;
        }

        var root = Path.GetFullPath(options.WorkingDirectory);
        HashSet<string> keep;
        lock (_gate)
        {
            keep = [.. _live.Select(e => Path.Combine(root, DirectoryNameOf(e.Id)))];
        }

        return EngineWorkDirectories.DeleteExpired(root, retention, _time.GetUtcNow(), keep);
    }

    /// <summary>Stops a running engine for an administrator; <see langword="false"/> when none runs with that id.</summary>
    public async Task<bool> StopEngineAsync(string engineId, string reason, CancellationToken cancellationToken)
    {
        LaunchedEngine? engine;
        lock (_gate)
        {
            engine = _live.FirstOrDefault(e => e.Id == engineId && e.State is LaunchedEngineState.Ready or LaunchedEngineState.Retired);
        }

        if (engine is null)
        {
            return false;
        }

        await StopAsync(engine, reason, "admin", cancellationToken);
        return true;
    }

    /// <summary>Stops every engine (gracefully, then killed) and launches no more. Idempotent.</summary>
    public Task StopAllAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _stopAll ??= StopAllCoreAsync(cancellationToken);
            return _stopAll;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAllAsync(CancellationToken.None);
        _shutdown.Dispose();
        _launchSlots.Dispose();
    }

    internal static string DirectoryNameOf(string engineId)
    {
        var name = new StringBuilder(engineId.Length);
        foreach (var c in engineId)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_');
        }

        return name.ToString();
    }

    internal static string UserOf(EngineRequest request) => request.Key.ShareLevel switch
    {
        // As Kyuubi: a GROUP engine runs as the group, a SERVER engine as the gateway's own user.
        ShareLevel.Group => request.Key.Owner,
        ShareLevel.Server => Environment.UserName,
        _ => request.Principal.UserName,
    };

    private static string NewEngineId(EngineKey key) => $"{EngineIdPrefix}{key}:{RandomNumberGenerator.GetHexString(8, lowercase: true)}";

    /// <summary>Whether the id is one a launching gateway made (so a derived token may be presented to it).</summary>
    internal static bool IsLaunchedEngineId(string engineId) => engineId.StartsWith(EngineIdPrefix, StringComparison.Ordinal);

    /// <summary>The engine's token: derived from the shared secret when one is set, else random.</summary>
    private static string TokenOf(string engineId, ProcessEngineOptions options)
        => options.EngineTokenSecret is { Length: > 0 } secret ? EngineAccessToken.Derive(secret, engineId) : EngineAccessToken.Create();

    /// <summary>
    /// The text shown for a launch failure (to the client and in the log): the engine's token and the values of
    /// sensitive keys masked, by the same rule as the logged command line.
    /// </summary>
    internal static string RedactFailure(string message, ProcessEngineOptions options, string? engineToken)
        => RedactorFor(options).Redact(message, engineToken);

    internal static SecretRedactor RedactorFor(ProcessEngineOptions options)
        => options.RedactedKeyPatterns is { } patterns ? new SecretRedactor(patterns) : SecretRedactor.Default;

    /// <summary>Refuses a launch of a key whose last launches failed, until its back-off has passed (under the lock).</summary>
    private void ThrowWhenBackingOff(EngineKey key, ProcessEngineOptions options, DateTimeOffset now)
    {
        if (!_failures.TryGetValue(key, out var failures) || now >= failures.RetryAt)
        {
            return;
        }

        var left = failures.RetryAt - now;
        _metrics.LaunchRefused("backoff");
        throw new EngineLocationException(
            $"No engine is launched for {key} until {Math.Ceiling(left.TotalSeconds):0} s from now: its last {failures.Count} launch(es) in a row failed, and launches of a failing key are spaced out ({ProcessEngineOptions.SectionName}:LaunchFailureBackoff = {options.LaunchFailureBackoff}, doubling up to MaxLaunchFailureBackoff = {options.MaxLaunchFailureBackoff}). The last failure: {failures.Message}",
            failures.StatusCode)
        {
            RetryAfter = failures.StatusCode == StatusCode.Unavailable ? left : null,
        };
    }

    /// <summary>Counts a failed launch of the key and spaces out the next one (under the lock).</summary>
    private void RecordFailure(EngineKey key, EngineLocationException failure, ProcessEngineOptions options)
    {
        if (options.LaunchFailureBackoff <= TimeSpan.Zero)
        {
            return;
        }

        var count = _failures.TryGetValue(key, out var previous) ? previous.Count + 1 : 1;
        var wait = options.LaunchFailureBackoff * Math.Pow(2, Math.Min(count - 1, 20));
        if (wait > options.MaxLaunchFailureBackoff)
        {
            wait = options.MaxLaunchFailureBackoff;
        }

        _failures[key] = new LaunchFailures(count, _time.GetUtcNow() + wait, failure.Message, failure.StatusCode);
    }

    /// <summary>Refuses a launch over the per-user or the total cap (under the lock).</summary>
    private void ThrowWhenAtCapacity(EngineRequest request, ProcessEngineOptions options)
    {
        var user = request.Principal.UserName;
        if (options.MaxEnginesPerUser > 0)
        {
            var own = _live.Count(e => string.Equals(e.LaunchedBy, user, StringComparison.Ordinal));
            if (own >= options.MaxEnginesPerUser)
            {
                _metrics.LaunchRefused("user_limit");
                throw new EngineLocationException(
                    $"No engine can be launched for {request.Key}: user '{user}' already has {own} engine(s) running or starting, the most one user may have ({ProcessEngineOptions.SectionName}:MaxEnginesPerUser = {options.MaxEnginesPerUser}). Release sessions you no longer need (an engine without sessions stops after {options.EngineIdleTimeout}), reuse an existing engine key, or ask an administrator to raise the limit.",
                    StatusCode.ResourceExhausted);
            }
        }

        if (options.MaxEngines > 0 && _live.Count >= options.MaxEngines)
        {
            _metrics.LaunchRefused("total_limit");
            throw new EngineLocationException(
                $"No engine can be launched for {request.Key}: this gateway already runs its maximum of {options.MaxEngines} engine(s) ({ProcessEngineOptions.SectionName}:MaxEngines = {options.MaxEngines}). Retry when another engine has been stopped, or ask an administrator to raise the limit.",
                StatusCode.ResourceExhausted);
        }
    }

    private static bool IsPastLifetime(LaunchedEngine engine, ProcessEngineOptions options, DateTimeOffset now)
        => options.MaxEngineLifetime is { } lifetime && now - engine.ReadyAt >= lifetime;

    /// <summary>
    /// The engine log's last lines for a failure message: each redacted (before it is shortened, so no secret is cut
    /// in half and shown in part), then shortened to <see cref="MaxTailLineLength"/> characters.
    /// </summary>
    private static string TailText(EngineProcess? process, ProcessEngineOptions options, string? engineToken)
    {
        var tail = process?.Tail() ?? [];
        if (tail.Count == 0)
        {
            return "The engine wrote nothing to its log.";
        }

        var redactor = RedactorFor(options);
        var lines = tail.Select(line =>
        {
            var redacted = redactor.Redact(line, engineToken);
            return redacted.Length <= MaxTailLineLength
                ? redacted
                : string.Concat(redacted.AsSpan(0, MaxTailLineLength), $"... ({redacted.Length - MaxTailLineLength} more characters)");
        });
        return $"Last {tail.Count} line(s) of the engine log:{Environment.NewLine}{string.Join(Environment.NewLine, lines)}";
    }

    /// <summary>Drops the engine's pooled HTTP/2 client: a stopped engine leaves no cache behind.</summary>
    private void Forget(LaunchedEngine engine)
    {
        if (engine.Endpoint is { } endpoint)
        {
            _gateway.ForgetConnections(endpoint);
        }
    }

    private void Retire(LaunchedEngine engine, ProcessEngineOptions options)
    {
        engine.State = LaunchedEngineState.Retired;
        if (_current.TryGetValue(engine.Key, out var current) && current == engine)
        {
            _current.Remove(engine.Key);
        }

        ProcessEngineLog.Retired(_logger, engine.Id, engine.Key, options.MaxEngineLifetime ?? TimeSpan.Zero);
    }

    private void TakeOutOfService(LaunchedEngine engine)
    {
        engine.State = LaunchedEngineState.Stopping;
        if (_current.TryGetValue(engine.Key, out var current) && current == engine)
        {
            _current.Remove(engine.Key);
        }
    }

    private async Task LaunchAsync(LaunchedEngine engine, EngineRequest request)
    {
        var options = _options.CurrentValue;
        var started = Stopwatch.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
        timeout.CancelAfter(options.InitializationTimeout);
        var hasSlot = false;
        string? engineToken = null;
        try
        {
            // Waiting for a slot counts against the initialization timeout.
            await _launchSlots.WaitAsync(timeout.Token);
            hasSlot = true;

            var port = FreeTcpPort.Pick(options.Host);
            var workDirectory = Path.Combine(Path.GetFullPath(options.WorkingDirectory), DirectoryNameOf(engine.Id));
            engineToken = TokenOf(engine.Id, options);
            var context = new EngineLaunchContext(engine.Id, engine.Key, UserOf(request), options.Host, port, workDirectory, request.Hints, engineToken);
            var commandLine = EngineCommandLine.Build(options, context);
            var endpoint = new EngineEndpoint(engine.Id, new UriBuilder(Uri.UriSchemeHttp, options.Host, port).Uri)
            {
                AccessToken = EngineCommandLine.UsesEngineToken(options) ? engineToken : null,
            };
            engine.Endpoint = endpoint;
            ProcessEngineLog.LaunchStarted(_logger, engine.Id, engine.Key, port, workDirectory, commandLine.ToDisplayString(RedactorFor(options), engineToken));

            EngineProcess process;
            try
            {
                process = EngineProcess.Start(commandLine, workDirectory);
            }
            catch (Exception e) when (e is Win32Exception or IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                await FailAsync(engine, engineToken, null, started, "failed", new EngineLocationException(
                    $"The engine for {engine.Key} could not be started: '{options.Command}' failed to run ({e.Message}). An administrator must fix {ProcessEngineOptions.SectionName}:Command.",
                    StatusCode.FailedPrecondition,
                    e));
                return;
            }

            try
            {
                // So that a gateway starting after this one died finds and stops the engine.
                EngineWorkDirectories.WriteState(workDirectory, engine.Id, process.Id, engine.Key, endpoint.Address, engine.LaunchedBy);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                ProcessEngineLog.StateNotWritten(_logger, engine.Id, workDirectory, e);
            }

            _startedProcessIds.Enqueue(process.Id);
            while (_startedProcessIds.Count > RememberedProcessIds && _startedProcessIds.TryDequeue(out _))
            {
            }

            _metrics.ProcessStarted();
            lock (_gate)
            {
                engine.Process = process;
            }

            _ = WatchAsync(engine, process);

            var probeSessionId = Guid.NewGuid().ToString();
            var probeTimeout = options.InitializationTimeout < MaxProbeTimeout ? options.InitializationTimeout : MaxProbeTimeout;
            while (true)
            {
                if (process.Exited.IsCompleted)
                {
                    var exitCode = await process.Exited;
                    await FailAsync(engine, engineToken, process, started, "exited", new EngineLocationException(
                        $"The engine for {engine.Key} exited with code {exitCode} before it was ready. {TailText(process, options, engineToken)}",
                        StatusCode.Unavailable));
                    return;
                }

                var healthy = await _gateway.ProbeAsync(endpoint, probeSessionId, probeTimeout, timeout.Token);
                if (healthy)
                {
                    break;
                }

                await Task.WhenAny(process.Exited, Task.Delay(options.ReadinessProbeInterval, timeout.Token));
                timeout.Token.ThrowIfCancellationRequested();
            }

            lock (_gate)
            {
                if (engine.State != LaunchedEngineState.Starting)
                {
                    throw new OperationCanceledException(_shutdown.Token);
                }

                var now = _time.GetUtcNow();
                _failures.Remove(engine.Key);
                engine.State = LaunchedEngineState.Ready;
                engine.ReadyAt = now;
                engine.Touch(now);
            }

            _metrics.LaunchEnded("ready", started);
            ProcessEngineLog.Ready(_logger, engine.Id, engine.Key, endpoint.Address, Stopwatch.GetElapsedTime(started).TotalSeconds, process.Id);
            engine.Ready.TrySetResult(endpoint);
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
            await FailAsync(engine, engineToken, engine.Process, started, "failed", new EngineLocationException(
                $"The engine for {engine.Key} was not started: the gateway is shutting down; retry shortly.", StatusCode.Unavailable));
        }
        catch (OperationCanceledException)
        {
            await FailAsync(engine, engineToken, engine.Process, started, "timeout", null, () => new EngineLocationException(
                $"The engine for {engine.Key} did not become ready within {options.InitializationTimeout.TotalSeconds:0.#} s ({ProcessEngineOptions.SectionName}:InitializationTimeout) and was stopped. {TailText(engine.Process, options, engineToken)}", StatusCode.Unavailable));
        }
        catch (Exception e)
        {
            await FailAsync(engine, engineToken, engine.Process, started, "failed", new EngineLocationException(
                $"The engine for {engine.Key} could not be started: {e.Message}", StatusCode.Unavailable, e));
        }
        finally
        {
            if (hasSlot)
            {
                _launchSlots.Release();
            }
        }
    }

    /// <summary>
    /// Ends a launch that failed: the process (tree) is killed and gone before the waiters are told, so the message
    /// has the log's last lines.
    /// </summary>
    private async Task FailAsync(LaunchedEngine engine, string? engineToken, EngineProcess? process, long started, string outcome, EngineLocationException? failure, Func<EngineLocationException>? lateFailure = null)
    {
        lock (_gate)
        {
            engine.State = LaunchedEngineState.Ended;
            if (_current.TryGetValue(engine.Key, out var current) && current == engine)
            {
                _current.Remove(engine.Key);
            }
        }

        // Before the kill, while the process still holds its port (a new engine may get the port right after).
        Forget(engine);
        if (process is not null)
        {
            process.KillTree();
            await process.WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        }

        failure ??= lateFailure!();

        // Engine output and exception texts may hold the engine's token or a secret conf: the client and the log see
        // them masked.
        var redacted = RedactFailure(failure.Message, _options.CurrentValue, engineToken);
        if (!string.Equals(redacted, failure.Message, StringComparison.Ordinal))
        {
            failure = new EngineLocationException(redacted, failure.StatusCode, failure.InnerException);
        }
        lock (_gate)
        {
            _live.Remove(engine);

            // A launch ended by the shutdown says nothing about the command.
            if (!_shutdown.IsCancellationRequested)
            {
                RecordFailure(engine.Key, failure, _options.CurrentValue);
            }
        }

        if (process is not null)
        {
            _metrics.ProcessEnded("failed");
            await process.DisposeAsync();
        }

        _metrics.LaunchEnded(outcome, started);
        ProcessEngineLog.LaunchFailed(_logger, engine.Id, engine.Key, failure.Message, failure.InnerException);
        engine.Ready.TrySetException(failure);
    }

    /// <summary>Forgets a running engine whose process exits on its own; its sessions learn it is lost.</summary>
    private async Task WatchAsync(LaunchedEngine engine, EngineProcess process)
    {
        var exitCode = await process.Exited;
        lock (_gate)
        {
            // A starting engine's launch, and a stopping one's stop, handle the exit themselves.
            if (engine.State is not (LaunchedEngineState.Ready or LaunchedEngineState.Retired))
            {
                return;
            }

            engine.State = LaunchedEngineState.Ended;
            if (_current.TryGetValue(engine.Key, out var current) && current == engine)
            {
                _current.Remove(engine.Key);
            }

            _live.Remove(engine);
        }

        _lifecycle.ReportLost(engine.Id, $"engine process exited with code {exitCode}");
        Forget(engine);
        ProcessEngineLog.Exited(_logger, engine.Id, engine.Key, exitCode);
        _metrics.ProcessEnded("exited");
        await process.DisposeAsync();
    }

    private Task StopAsync(LaunchedEngine engine, string reason, string metric, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (engine.State is LaunchedEngineState.Stopping or LaunchedEngineState.Ended or LaunchedEngineState.Starting)
            {
                return Task.CompletedTask;
            }

            TakeOutOfService(engine);
        }

        return StopTakenAsync(engine, reason, metric, cancellationToken);
    }

    /// <summary>Stops an engine already taken out of service: SIGTERM, the grace period, then the tree is killed.</summary>
    private async Task StopTakenAsync(LaunchedEngine engine, string reason, string metric, CancellationToken cancellationToken)
    {
        // Any session still bound to it is told once and released.
        _lifecycle.ReportStopped(engine.Id, reason);
        Forget(engine);
        var graceful = true;
        if (engine.Process is { } process)
        {
            graceful = await process.StopAsync(_options.CurrentValue.StopGracePeriod, cancellationToken);
        }

        lock (_gate)
        {
            engine.State = LaunchedEngineState.Ended;
            _live.Remove(engine);
        }

        ProcessEngineLog.Stopped(_logger, engine.Id, reason, graceful);
        if (engine.Process is { } ended)
        {
            _metrics.ProcessEnded(metric);
            await ended.DisposeAsync();
        }
    }

    private async Task StopAllCoreAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        await _shutdown.CancelAsync();
        List<LaunchedEngine> running;
        List<Task> launches;
        lock (_gate)
        {
            launches = [.. _live.Where(e => e.State == LaunchedEngineState.Starting).Select(e => e.Launch)];
            running = [.. _live.Where(e => e.State is LaunchedEngineState.Ready or LaunchedEngineState.Retired)];
            foreach (var engine in running)
            {
                TakeOutOfService(engine);
            }
        }

        var handOver = await StillUsedAfterThisGatewayAsync(running, cancellationToken);
        foreach (var engine in running.Where(e => handOver.Contains(e.Id)))
        {
            HandOver(engine);
        }

        running.RemoveAll(e => handOver.Contains(e.Id));
        if (running.Count + launches.Count > 0)
        {
            ProcessEngineLog.StoppingAll(_logger, running.Count + launches.Count);
        }

        // Starting engines are killed by their launch, which sees the shutdown.
        await Task.WhenAll(running.Select(e => StopTakenAsync(e, "the gateway is stopping", "shutdown", cancellationToken)).Concat(launches));
    }

    /// <summary>
    /// Of the engines this gateway runs, those its stop must not end: used through another replica, or holding sessions
    /// in a session store that outlives this process (any but the in-memory one). A rolling restart then leaves users'
    /// engines running, and the gateway started next with the same working directory adopts them.
    /// </summary>
    private async Task<HashSet<string>> StillUsedAfterThisGatewayAsync(List<LaunchedEngine> running, CancellationToken cancellationToken)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        if (running.Count == 0 || (_remoteUse.Length == 0 && !_gateway.SessionsOutliveProcess))
        {
            return used;
        }

        try
        {
            if (_gateway.SessionsOutliveProcess)
            {
                used.UnionWith(await SessionEngineIdsAsync(cancellationToken));
            }

            used.UnionWith(await InUseElsewhereAsync([.. running.Select(e => e.Id).Where(id => !used.Contains(id))], cancellationToken));
        }
        catch (Exception e)
        {
            // The store cannot say (or the host's stop timeout ran out asking): stopping engines users work on is worse
            // than leaving them to the next gateway, which stops those nobody uses.
            ProcessEngineLog.UseUnknownAtStop(_logger, running.Count, e);
            return [.. running.Select(e => e.Id)];
        }

        used.IntersectWith(running.Select(e => e.Id));
        return used;
    }

    /// <summary>Leaves a running engine to the gateway started next: it is marked handed over and no longer watched.</summary>
    private void HandOver(LaunchedEngine engine)
    {
        Forget(engine);
        lock (_gate)
        {
            engine.State = LaunchedEngineState.Ended;
            _live.Remove(engine);
        }

        if (engine.Endpoint is { } endpoint)
        {
            try
            {
                EngineWorkDirectories.MarkHandedOver(Path.Combine(Path.GetFullPath(_options.CurrentValue.WorkingDirectory), DirectoryNameOf(engine.Id)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                ProcessEngineLog.StateNotWritten(_logger, engine.Id, _options.CurrentValue.WorkingDirectory, e);
            }

            ProcessEngineLog.HandedOver(_logger, engine.Id, engine.Key, endpoint.Address);
        }

        engine.Process?.Release();
        _metrics.ProcessEnded("handed_over");
    }
}

/// <summary>A key's launches that failed in a row: how many, when the next may start, and the last failure.</summary>
internal sealed record LaunchFailures(int Count, DateTimeOffset RetryAt, string Message, StatusCode StatusCode);
