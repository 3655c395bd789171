using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Grpc.Core;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.Kubernetes.Discovery;
using SparkConnect.Multiplexer.Kubernetes.Internal;

namespace SparkConnect.Multiplexer.Kubernetes.Launching;

/// <summary>
/// Hands out the Ready engine pod of an engine key from the cache; launches one (single flight per namespace and key)
/// when there is none; deletes launched pods that are idle or terminated.
/// </summary>
/// <remarks>
/// A pod whose engine is reported gone (<see cref="IEngineLifecycle"/>: health probes failed, an operator) while
/// Kubernetes still calls it Running and Ready is not handed out again: the gateway knows better than its readiness
/// probe. It is trusted again once it stops serving and serves again (it came back, same pod); a launched one is
/// deleted, so that the next session of its key gets a new pod.
/// </remarks>
internal sealed class KubernetesEngineManager : IDisposable
{
    private const int SummaryEventCount = 5;

    private readonly IOptions<KubernetesEngineOptions> _options;
    private readonly KubernetesClientProvider _client;
    private readonly EnginePodCache _cache;
    private readonly IEngineLifecycle _lifecycle;
    private readonly ISessionStore _store;
    private readonly KubernetesMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<KubernetesEngineManager> _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Namespace, EngineKey Key), LaunchInFlight> _launches = [];
    private readonly SecretRedactor _redactor;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastUsed = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _shutdown = new();

    // Engine ids of serving pods reported gone; each entry goes when the cache sees its pod stop serving (or go).
    private readonly ConcurrentDictionary<string, byte> _distrusted = new(StringComparer.Ordinal);

    public KubernetesEngineManager(
        IOptions<KubernetesEngineOptions> options,
        KubernetesClientProvider client,
        EnginePodCache cache,
        IEngineLifecycle lifecycle,
        ISessionStore store,
        KubernetesMetrics metrics,
        TimeProvider time,
        ILogger<KubernetesEngineManager> logger)
    {
        _options = options;
        _client = client;
        _cache = cache;
        _lifecycle = lifecycle;
        _store = store;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _redactor = options.Value.RedactedKeyPatterns is { } patterns ? new SecretRedactor(patterns) : SecretRedactor.Default;
        _lifecycle.EngineGone += OnEngineGone;
    }

    /// <summary>How many pods have a last-used time noted (tests check that gone pods are forgotten).</summary>
    internal int TrackedPodCount => _lastUsed.Count;

    /// <exception cref="EngineLocationException">
    /// PERMISSION_DENIED for a namespace not allowed; UNAVAILABLE when no engine is ready; RESOURCE_EXHAUSTED when a
    /// launch would go over <see cref="KubernetesEngineOptions.MaxEnginesPerUser"/> or <see cref="KubernetesEngineOptions.MaxEngines"/>.
    /// </exception>
    /// <exception cref="EngineNotRunningException">
    /// No engine pod for the key is Running and Ready (nor being launched by this gateway) and the request may not
    /// launch one (<see cref="EngineRequest.MayLaunch"/>).
    /// </exception>
    public async ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var options = _options.Value;
        var ns = NamespaceOf(request, options);
        try
        {
            await _cache.WaitSyncedAsync(ns, cancellationToken).WaitAsync(options.InitializationTimeout, _time, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new EngineLocationException(
                $"The engine pods of namespace {ns} could not be listed yet (is the Kubernetes API server reachable, and may the gateway list pods there?); retry shortly.", StatusCode.Unavailable);
        }

        if (FindServing(ns, request.Key, options) is { } found)
        {
            return found;
        }

        if (!request.MayLaunch)
        {
            // A launch already under way is waited for (it starts nothing new); otherwise nothing is started.
            Task<EngineEndpoint>? starting;
            lock (_gate)
            {
                starting = _launches.TryGetValue((ns, request.Key), out var running) ? running.Task : null;
            }

            return starting is not null
                ? await starting.WaitAsync(cancellationToken)
                : throw new EngineNotRunningException(request.Key);
        }

        if (!options.LaunchEngines)
        {
            throw new EngineLocationException(
                $"No engine pod for {request.Key} is Running and Ready in namespace {ns}, and this gateway launches none ({KubernetesEngineOptions.SectionName}:LaunchEngines = false); retry when one is.", StatusCode.Unavailable);
        }

        Task<EngineEndpoint> launch;
        lock (_gate)
        {
            if (_launches.TryGetValue((ns, request.Key), out var flight))
            {
                launch = flight.Task;
                KubernetesLog.JoiningLaunch(_logger, request.Key, ns, flight.PodName);
            }
            else
            {
                // Adopting a pod that is already starting for the key creates nothing, so only a new pod is capped.
                if (FindStarting(ns, request.Key, options) is null)
                {
                    ThrowWhenAtCapacity(request, options);
                }

                flight = new LaunchInFlight(ns, request.Principal.UserName);
                launch = flight.Task = Task.Run(() => LaunchAsync(ns, request, flight, _shutdown.Token), CancellationToken.None);
                _launches[(ns, request.Key)] = flight;
                _ = launch.ContinueWith(
                    _ =>
                    {
                        lock (_gate)
                        {
                            _launches.Remove((ns, request.Key));
                        }
                    },
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
        }

        // Each waiter's cancellation ends only its own wait; the launch goes on for the others.
        return await launch.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Deletes launched pods that ended (per <see cref="KubernetesEngineOptions.TerminatedPods"/>) and launched,
    /// serving pods with no session for <see cref="KubernetesEngineOptions.EngineIdleTimeout"/>.
    /// </summary>
    public async Task CleanUpAsync(CancellationToken cancellationToken)
    {
        var options = _options.Value;
        var sessions = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var session in _store.ListAsync(cancellationToken))
        {
            sessions.Add(session.EngineId);
        }

        var now = _time.GetUtcNow();
        var deletions = new List<(string Namespace, V1Pod Pod, string Reason, string MetricReason, bool Report)>();
        foreach (var ns in options.Namespaces)
        {
            foreach (var pod in _cache.Pods(ns))
            {
                if (!EnginePods.IsManaged(pod, options.Labels) || pod.Metadata?.DeletionTimestamp is not null)
                {
                    continue;
                }

                var id = EnginePods.EngineIdOf(pod);
                if (EnginePods.IsTerminated(pod))
                {
                    if (options.TerminatedPods == TerminatedPodPolicy.Delete)
                    {
                        deletions.Add((ns, pod, $"terminated (phase {pod.Status?.Phase})", KubernetesMetrics.DeleteReason.Terminated, true));
                    }

                    continue;
                }

                if (!EnginePods.IsServing(pod))
                {
                    continue;
                }

                if (_distrusted.ContainsKey(id))
                {
                    // Reported gone and still here: its deletion at the report failed. Its sessions were told then.
                    deletions.Add((ns, pod, "its engine was reported gone", KubernetesMetrics.DeleteReason.Lost, false));
                    continue;
                }

                if (sessions.Contains(id))
                {
                    _lastUsed[id] = now;
                    continue;
                }

                // A pod first seen here starts its idle time now (another gateway may have launched it).
                var lastUsed = _lastUsed.GetOrAdd(id, now);
                if (now - lastUsed >= options.EngineIdleTimeout)
                {
                    deletions.Add((ns, pod, $"no session for {options.EngineIdleTimeout}", KubernetesMetrics.DeleteReason.Idle, true));
                }
            }
        }

        // Forget what was noted for pods that are gone (deleted by anyone, or never launched here): ids are not reused.
        var present = options.Namespaces.SelectMany(_cache.Pods).Select(EnginePods.EngineIdOf).ToHashSet(StringComparer.Ordinal);
        foreach (var id in _lastUsed.Keys)
        {
            if (!present.Contains(id))
            {
                _lastUsed.TryRemove(id, out _);
            }
        }

        foreach (var (ns, pod, reason, metricReason, report) in deletions)
        {
            var id = EnginePods.EngineIdOf(pod);
            _lastUsed.TryRemove(id, out _);
            if (report)
            {
                // Distrusted first, so that our own report does not start a second deletion (see OnEngineGone).
                _distrusted.TryAdd(id, 0);
                _lifecycle.ReportLost(id, "engine pod deleted: " + reason);
            }

            await DeleteAsync(ns, EnginePods.NameOf(pod), reason, metricReason, cancellationToken);
        }
    }

    private static string NamespaceOf(EngineRequest request, KubernetesEngineOptions options)
    {
        foreach (var hint in options.NamespaceHints)
        {
            if (request.Hints.TryGetValue(hint, out var requested) && requested.Length > 0)
            {
                return options.Namespaces.Contains(requested, StringComparer.Ordinal)
                    ? requested
                    : throw new EngineLocationException(
                        $"Namespace '{requested}' is not allowed here; allowed: {string.Join(", ", options.Namespaces)}.",
                        StatusCode.PermissionDenied);
            }
        }

        return options.Namespaces[0];
    }

    /// <summary>The name of a launched pod for the key that is starting or serving (not ended, not being deleted).</summary>
    private string? FindStarting(string ns, EngineKey key, KubernetesEngineOptions options)
    {
        var keyLabels = EnginePods.KeyLabels(key, options.Labels);
        return _cache.Pods(ns)
            .Where(p => IsLiveLaunched(p, options) && EnginePods.HasLabels(p, keyLabels))
            .OrderBy(EnginePods.CreatedOf)
            .Select(EnginePods.NameOf)
            .FirstOrDefault();
    }

    /// <summary>Launched, neither ended nor being deleted (by Kubernetes, or by this gateway for a pod reported gone).</summary>
    private bool IsLiveLaunched(V1Pod pod, KubernetesEngineOptions options)
        => EnginePods.IsManaged(pod, options.Labels) && pod.Metadata?.DeletionTimestamp is null && !EnginePods.IsTerminated(pod)
            && !_distrusted.ContainsKey(EnginePods.EngineIdOf(pod));

    /// <summary>
    /// Refuses a new pod over the per-user or the total cap (under the lock): launched pods in the allowed namespaces,
    /// whoever's gateway launched them, plus this gateway's launches whose pod is not in the cache yet.
    /// </summary>
    private void ThrowWhenAtCapacity(EngineRequest request, KubernetesEngineOptions options)
    {
        if (options.MaxEngines <= 0 && options.MaxEnginesPerUser <= 0)
        {
            return;
        }

        var user = request.Principal.UserName;
        var userLabel = EnginePods.LabelValue(user);
        var counted = new HashSet<(string, string)>();
        var total = 0;
        var own = 0;
        foreach (var ns in options.Namespaces)
        {
            foreach (var pod in _cache.Pods(ns))
            {
                if (IsLiveLaunched(pod, options) && counted.Add((ns, EnginePods.NameOf(pod))))
                {
                    total++;
                    if (pod.Metadata.Labels.TryGetValue(options.Labels.LaunchedBy, out var launchedBy) && launchedBy == userLabel)
                    {
                        own++;
                    }
                }
            }
        }

        foreach (var flight in _launches.Values)
        {
            if (flight.PodName is not { } name || !counted.Contains((flight.Namespace, name)))
            {
                total++;
                if (string.Equals(flight.User, user, StringComparison.Ordinal))
                {
                    own++;
                }
            }
        }

        if (options.MaxEnginesPerUser > 0 && own >= options.MaxEnginesPerUser)
        {
            throw new EngineLocationException(
                $"No engine pod can be launched for {request.Key}: user '{user}' already has {own} engine pod(s) running or starting, the most one user may have ({KubernetesEngineOptions.SectionName}:MaxEnginesPerUser = {options.MaxEnginesPerUser}). Release sessions you no longer need (a launched pod without sessions is deleted after {options.EngineIdleTimeout}), reuse an existing engine key, or ask an administrator to raise the limit.",
                StatusCode.ResourceExhausted);
        }

        if (options.MaxEngines > 0 && total >= options.MaxEngines)
        {
            throw new EngineLocationException(
                $"No engine pod can be launched for {request.Key}: {total} launched engine pod(s) already run or start in {string.Join(", ", options.Namespaces)}, the maximum ({KubernetesEngineOptions.SectionName}:MaxEngines = {options.MaxEngines}). Retry when another engine has been stopped, or ask an administrator to raise the limit.",
                StatusCode.ResourceExhausted);
        }
    }

    private EngineEndpoint? FindServing(string ns, EngineKey key, KubernetesEngineOptions options)
    {
        var keyLabels = EnginePods.KeyLabels(key, options.Labels);
        var candidates = _cache.Pods(ns)
            .Where(p => EnginePods.IsServing(p) && EnginePods.HasLabels(p, keyLabels) && !_distrusted.ContainsKey(EnginePods.EngineIdOf(p)))
            .OrderBy(EnginePods.CreatedOf)
            .ThenBy(EnginePods.NameOf, StringComparer.Ordinal);
        foreach (var pod in candidates)
        {
            if (EnginePods.PortOf(pod, options) is not { } port)
            {
                KubernetesLog.NoPort(_logger, ns, EnginePods.NameOf(pod), options.PortLabel, options.PortName);
                continue;
            }

            var id = EnginePods.EngineIdOf(pod);
            _lastUsed[id] = _time.GetUtcNow();
            return new EngineEndpoint(id, new UriBuilder(Uri.UriSchemeHttp, pod.Status.PodIP, port).Uri);
        }

        return null;
    }

    /// <summary>Stops waiting for launches (their pods stay, and are found again by their labels).</summary>
    public void Dispose()
    {
        _lifecycle.EngineGone -= OnEngineGone;

        // Cancelled, not disposed: a late LocateAsync may still read its token.
        _shutdown.Cancel();
    }

    /// <summary>
    /// Distrusts a pod reported gone while it still serves, and deletes it when this gateway launched it; forgets the
    /// distrust of a pod that no longer serves (the cache reports those), so that it is used again if it comes back.
    /// </summary>
    private void OnEngineGone(object? sender, EngineGoneEventArgs gone)
    {
        var options = _options.Value;
        foreach (var ns in options.Namespaces)
        {
            foreach (var pod in _cache.Pods(ns))
            {
                if (!EnginePods.IsServing(pod) || EnginePods.EngineIdOf(pod) != gone.EngineId)
                {
                    continue;
                }

                if (_distrusted.TryAdd(gone.EngineId, 0))
                {
                    KubernetesLog.ReportedGone(_logger, gone.EngineId, gone.Reason);
                    if (EnginePods.IsManaged(pod, options.Labels))
                    {
                        // Off the reporter's thread; a deletion that fails is tried again at the next clean-up.
                        _ = Task.Run(() => DeleteReportedAsync(ns, EnginePods.NameOf(pod), gone.Reason), CancellationToken.None);
                    }
                }

                return;
            }
        }

        _distrusted.TryRemove(gone.EngineId, out _);
    }

    private async Task DeleteReportedAsync(string ns, string podName, string reason)
    {
        try
        {
            await DeleteAsync(ns, podName, "its engine was reported gone: " + reason, KubernetesMetrics.DeleteReason.Lost, _shutdown.Token);
        }
        catch (OperationCanceledException)
        {
            // The gateway is stopping; the pod is distrusted by no one now, and the next gateway's probes decide.
        }
    }

    /// <summary>Creates (or adopts) the key's pod and waits until it is Ready; runs once for all waiters, so only <paramref name="shutdown"/> stops it.</summary>
    private async Task<EngineEndpoint> LaunchAsync(string ns, EngineRequest request, LaunchInFlight flight, CancellationToken shutdown)
    {
        var options = _options.Value;
        var key = request.Key;
        var started = Stopwatch.GetTimestamp();
        var measured = false;

        // Each way out records its outcome once, when it is known: the status summary and deletion that follow a
        // failure are not part of the launch's duration.
        void Ended(string outcome)
        {
            if (!measured)
            {
                measured = true;
                _metrics.LaunchEnded(ns, outcome, started);
            }
        }

        using var deadline = new CancellationTokenSource(options.InitializationTimeout, _time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, shutdown);

        // Another gateway instance (or an earlier launch) may have created one that is still starting.
        var podName = FindStarting(ns, key, options);
        flight.PodName = podName;

        try
        {
            if (podName is null)
            {
                podName = EnginePodBuilder.NewPodName(options.PodTemplate, key);
                flight.PodName = podName;
                var pod = EnginePodBuilder.Build(options, request, ns, podName);
                KubernetesLog.Creating(_logger, ns, podName, key, options.PodTemplate.Image);
                try
                {
                    await _client.Client.CoreV1.CreateNamespacedPodAsync(pod, ns, cancellationToken: timeout.Token);
                }
                catch (HttpOperationException e)
                {
                    var status = e.Response.StatusCode >= HttpStatusCode.InternalServerError || e.Response.StatusCode == HttpStatusCode.TooManyRequests
                        ? StatusCode.Unavailable
                        : StatusCode.FailedPrecondition;
                    var failure = new EngineLocationException(
                        $"The engine pod for {key} could not be created in namespace {ns}: the API server answered {(int)e.Response.StatusCode} {Truncate(_redactor.Redact(e.Response.Content), 300)}. An administrator must check the pod template and the gateway's RBAC (pods: create).",
                        status,
                        e);
                    Ended(KubernetesMetrics.LaunchOutcome.Failed);
                    KubernetesLog.LaunchFailed(_logger, ns, podName, key, failure.Message, e);
                    throw failure;
                }
            }

            var seen = false;
            while (true)
            {
                var changed = _cache.Changed;
                var current = _cache.Get(ns, podName);
                if (current is not null)
                {
                    seen = true;
                    if (EnginePods.IsServing(current) && EnginePods.PortOf(current, options) is { } port)
                    {
                        var id = EnginePods.EngineIdOf(current);
                        var endpoint = new EngineEndpoint(id, new UriBuilder(Uri.UriSchemeHttp, current.Status.PodIP, port).Uri);
                        _lastUsed[id] = _time.GetUtcNow();
                        Ended(KubernetesMetrics.LaunchOutcome.Ready);
                        KubernetesLog.Ready(_logger, id, key, endpoint.Address, Stopwatch.GetElapsedTime(started).TotalSeconds);
                        return endpoint;
                    }

                    if (EnginePods.IsTerminated(current))
                    {
                        Ended(KubernetesMetrics.LaunchOutcome.Failed);
                        var summary = await SummarizeAsync(ns, podName, CancellationToken.None);
                        if (options.TerminatedPods == TerminatedPodPolicy.Delete)
                        {
                            await DeleteAsync(ns, podName, "ended before it was ready", KubernetesMetrics.DeleteReason.Terminated, CancellationToken.None);
                        }

                        var failure = new EngineLocationException($"The engine pod {ns}/{podName} for {key} ended before it was ready. {summary}", StatusCode.Unavailable);
                        KubernetesLog.LaunchFailed(_logger, ns, podName, key, failure.Message, null);
                        throw failure;
                    }
                }
                else if (seen)
                {
                    Ended(KubernetesMetrics.LaunchOutcome.Failed);
                    var failure = new EngineLocationException($"The engine pod {ns}/{podName} for {key} was deleted before it was ready; retry.", StatusCode.Unavailable);
                    KubernetesLog.LaunchFailed(_logger, ns, podName, key, failure.Message, null);
                    throw failure;
                }

                await changed.WaitAsync(timeout.Token);
            }
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            // Not an outcome: the pod stays and is found again by its labels.
            measured = true;
            throw new EngineLocationException($"The engine pod for {key} was not waited for: the gateway is shutting down; retry shortly.", StatusCode.Unavailable);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            Ended(KubernetesMetrics.LaunchOutcome.Timeout);
            var summary = await SummarizeAsync(ns, podName!, CancellationToken.None);
            await DeleteAsync(ns, podName!, "not ready within the initialization timeout", KubernetesMetrics.DeleteReason.Timeout, CancellationToken.None);
            var failure = new EngineLocationException(
                $"The engine pod {ns}/{podName} for {key} was not Running and Ready within {options.InitializationTimeout.TotalSeconds:0.#} s ({KubernetesEngineOptions.SectionName}:InitializationTimeout) and was deleted. {summary}", StatusCode.Unavailable);
            KubernetesLog.LaunchFailed(_logger, ns, podName!, key, failure.Message, null);
            throw failure;
        }
        finally
        {
            // Anything else (the API server unreachable, say) is a failed launch too.
            Ended(KubernetesMetrics.LaunchOutcome.Failed);
        }
    }

    /// <summary>The pod's phase, conditions, container states and last events, read from the API server.</summary>
    private async Task<string> SummarizeAsync(string ns, string podName, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(10));
        var text = new StringBuilder();
        try
        {
            var pod = await _client.Client.CoreV1.ReadNamespacedPodAsync(podName, ns, cancellationToken: deadline.Token);
            var status = pod.Status;
            text.Append("Pod status: phase ").Append(status?.Phase ?? "unknown");
            if (status?.Reason is { Length: > 0 } reason)
            {
                text.Append(" (").Append(reason).Append(')');
            }

            if (status?.Message is { Length: > 0 } message)
            {
                text.Append(": ").Append(message);
            }

            text.Append('.');
            if (status?.Conditions is { Count: > 0 } conditions)
            {
                text.Append(" Conditions: ").AppendJoin(", ", conditions.Select(c =>
                    $"{c.Type}={c.Status}" + (c.Reason is { Length: > 0 } r ? $" ({r}{(c.Message is { Length: > 0 } m ? ": " + m : "")})" : ""))).Append('.');
            }

            if (status?.ContainerStatuses is { Count: > 0 } containers)
            {
                text.Append(" Containers: ").AppendJoin(", ", containers.Select(DescribeContainer)).Append('.');
            }
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException or OperationCanceledException or KubernetesException)
        {
            KubernetesLog.SummaryFailed(_logger, ns, podName, e);
            text.Append("Pod status: could not be read.");
        }

        try
        {
            var events = await _client.Client.CoreV1.ListNamespacedEventAsync(ns, fieldSelector: $"involvedObject.name={podName}", cancellationToken: deadline.Token);
            var recent = (events.Items ?? [])
                .OrderByDescending(e => e.LastTimestamp ?? e.EventTime ?? e.Metadata?.CreationTimestamp ?? DateTime.MinValue)
                .Take(SummaryEventCount)
                .Reverse()
                .ToList();
            if (recent.Count > 0)
            {
                text.Append(" Recent events: ").AppendJoin("; ", recent.Select(e => $"{e.Type} {e.Reason}: {e.Message}")).Append('.');
            }
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException or OperationCanceledException or KubernetesException)
        {
            KubernetesLog.SummaryFailed(_logger, ns, podName, e);
        }

        // Status and event messages are the cluster's text (a container's termination message is whatever it wrote).
        return _redactor.Redact(text.ToString());
    }

    private static string DescribeContainer(V1ContainerStatus container)
    {
        var state = container.State;
        var description = state?.Waiting is { } waiting ? $"waiting ({waiting.Reason}{(waiting.Message is { Length: > 0 } m ? ": " + m : "")})"
            : state?.Terminated is { } terminated ? $"terminated ({terminated.Reason}, exit code {terminated.ExitCode}{(terminated.Message is { Length: > 0 } tm ? ": " + tm : "")})"
            : state?.Running is not null ? "running"
            : "unknown";
        return $"{container.Name} {description}, ready={container.Ready}, restarts={container.RestartCount}";
    }

    /// <summary>Deletes a pod; <paramref name="reason"/> is for the log, <paramref name="metricReason"/> a <see cref="KubernetesMetrics.DeleteReason"/>.</summary>
    private async Task DeleteAsync(string ns, string podName, string reason, string metricReason, CancellationToken cancellationToken)
    {
        KubernetesLog.Deleting(_logger, ns, podName, reason);
        try
        {
            await _client.Client.CoreV1.DeleteNamespacedPodAsync(podName, ns, cancellationToken: cancellationToken);
            _metrics.PodDeleted(ns, metricReason);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // Already gone (deleted by someone else): not counted as deleted by this gateway.
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException or KubernetesException)
        {
            KubernetesLog.DeleteFailed(_logger, ns, podName, e);
        }
    }

    private static string Truncate(string? text, int length)
        => text is null ? "" : text.Length <= length ? text : text[..length] + "...";
}

/// <summary>One launch under way: its task, for whom, and its pod once named (so the caps count it once).</summary>
internal sealed class LaunchInFlight(string ns, string user)
{
    private volatile string? _podName;

    public string Namespace { get; } = ns;

    public string User { get; } = user;

    public Task<EngineEndpoint> Task { get; set; } = null!;

    public string? PodName
    {
        get => _podName;
        set => _podName = value;
    }
}
