using System.Diagnostics.Metrics;
using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.Kubernetes.Internal;

namespace SparkConnect.Multiplexer.Kubernetes.Discovery;

/// <summary>
/// The engine pods (pods with the share-level label) of every allowed namespace, kept current by list-then-watch:
/// the watch resumes from the last resourceVersion when its stream ends, a 410 Gone (as an HTTP status or a watch
/// ERROR event) or the periodic resync lists again. Routing reads only this cache. A pod that stops serving (not
/// Ready, deleted, or missing from a new list) has its engine marked lost, so its sessions are told once.
/// </summary>
internal sealed class EnginePodCache : IDisposable
{
    private readonly KubernetesClientProvider _client;
    private readonly IOptions<KubernetesEngineOptions> _options;
    private readonly IEngineLifecycle _lifecycle;
    private readonly KubernetesMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<EnginePodCache> _logger;
    private readonly Dictionary<string, NamespaceState> _namespaces = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private TaskCompletionSource _changed = NewSignal();

    public EnginePodCache(
        KubernetesClientProvider client,
        IOptions<KubernetesEngineOptions> options,
        IEngineLifecycle lifecycle,
        KubernetesMetrics metrics,
        TimeProvider time,
        ILogger<EnginePodCache> logger)
    {
        _client = client;
        _options = options;
        _lifecycle = lifecycle;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        foreach (var ns in options.Value.Namespaces)
        {
            _namespaces.TryAdd(ns, new NamespaceState());
        }

        metrics.ObserveReadyPods(ObserveReadyPods);
    }

    /// <summary>How many full lists were made (tests check that a watch reconnect does not list again).</summary>
    public int ListCount { get; private set; }

    /// <summary>Completes at the next change of any pod (or list); take it before reading, then await it.</summary>
    public Task Changed
    {
        get
        {
            lock (_gate)
            {
                return _changed.Task;
            }
        }
    }

    /// <summary>Waits until the namespace has been listed once.</summary>
    public Task WaitSyncedAsync(string ns, CancellationToken cancellationToken)
        => _namespaces[ns].Synced.Task.WaitAsync(cancellationToken);

    public V1Pod? Get(string ns, string name)
    {
        lock (_gate)
        {
            return _namespaces[ns].Pods.GetValueOrDefault(name);
        }
    }

    /// <summary>A snapshot of the cached pods of a namespace.</summary>
    public IReadOnlyList<V1Pod> Pods(string ns)
    {
        lock (_gate)
        {
            return [.. _namespaces[ns].Pods.Values];
        }
    }

    /// <summary>Keeps every namespace's cache current until <paramref name="cancellationToken"/> is cancelled.</summary>
    public Task RunAsync(CancellationToken cancellationToken)
        => Task.WhenAll(_namespaces.Keys.Select(ns => Task.Run(() => WatchNamespaceAsync(ns, cancellationToken), CancellationToken.None)));

    public void Dispose()
    {
        lock (_gate)
        {
            _changed.TrySetResult();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static bool IsGone(Exception e)
        => e is KubernetesException { Status.Code: (int)HttpStatusCode.Gone }
            || e is HttpOperationException { Response.StatusCode: HttpStatusCode.Gone };

    private async Task WatchNamespaceAsync(string ns, CancellationToken cancellationToken)
    {
        var options = _options.Value;
        var selector = options.Labels.ShareLevel;
        string? resourceVersion = null;
        var listedAt = _time.GetUtcNow();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (resourceVersion is null || _time.GetUtcNow() - listedAt >= options.ResyncInterval)
                {
                    var list = await _client.Client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: selector, cancellationToken: cancellationToken);
                    resourceVersion = list.Metadata?.ResourceVersion;
                    listedAt = _time.GetUtcNow();
                    Replace(ns, list.Items ?? []);
                    KubernetesLog.Listed(_logger, ns, list.Items?.Count ?? 0, resourceVersion);
                }

                var untilResync = options.ResyncInterval - (_time.GetUtcNow() - listedAt);
                using var watchEnd = new CancellationTokenSource(untilResync > TimeSpan.Zero ? untilResync : TimeSpan.FromMilliseconds(1), _time);
                using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, watchEnd.Token);
                var gone = false;
                Exception? failure = null;
                try
                {
                    await foreach (var (type, pod) in _client.Client.CoreV1.WatchListNamespacedPodAsync(
                        ns,
                        allowWatchBookmarks: true,
                        labelSelector: selector,
                        resourceVersion: resourceVersion,
                        onError: e =>
                        {
                            if (IsGone(e))
                            {
                                gone = true;
                                watch.Cancel();
                            }
                            else
                            {
                                failure ??= e;
                            }
                        },
                        cancellationToken: watch.Token))
                    {
                        if (pod?.Metadata?.ResourceVersion is { Length: > 0 } version)
                        {
                            resourceVersion = version;
                        }

                        if (type is WatchEventType.Added or WatchEventType.Modified)
                        {
                            Apply(ns, pod!, deleted: false);
                        }
                        else if (type == WatchEventType.Deleted)
                        {
                            Apply(ns, pod!, deleted: true);
                        }
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // Ended for a 410 or for the resync: both list again below.
                    gone |= !watchEnd.IsCancellationRequested;
                }

                if (gone)
                {
                    KubernetesLog.WatchGone(_logger, ns);
                    _metrics.WatchRestarted(ns, KubernetesMetrics.WatchRestart.Gone);
                    resourceVersion = null;
                }
                else if (watchEnd.IsCancellationRequested)
                {
                    _metrics.WatchRestarted(ns, KubernetesMetrics.WatchRestart.Resync);
                    resourceVersion = null;
                }
                else if (failure is not null)
                {
                    throw failure;
                }
                else
                {
                    KubernetesLog.WatchEnded(_logger, ns, resourceVersion);
                    _metrics.WatchRestarted(ns, KubernetesMetrics.WatchRestart.Resumed);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (IsGone(e))
            {
                KubernetesLog.WatchGone(_logger, ns);
                _metrics.WatchRestarted(ns, KubernetesMetrics.WatchRestart.Gone);
                resourceVersion = null;
            }
            catch (Exception e)
            {
                KubernetesLog.WatchFailed(_logger, ns, options.WatchRetryDelay, e);
                _metrics.WatchRestarted(ns, KubernetesMetrics.WatchRestart.Failed);
                try
                {
                    await Task.Delay(options.WatchRetryDelay, _time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>The Running and Ready pods per namespace; a namespace not listed yet has no measurement (unknown, not zero).</summary>
    private List<Measurement<long>> ObserveReadyPods()
    {
        var measurements = new List<Measurement<long>>(_namespaces.Count);
        lock (_gate)
        {
            foreach (var (ns, state) in _namespaces)
            {
                if (state.Synced.Task.IsCompleted)
                {
                    measurements.Add(new Measurement<long>(state.Pods.Values.Count(EnginePods.IsServing), KubernetesMetrics.Namespace(ns)));
                }
            }
        }

        return measurements;
    }

    private void Replace(string ns, IList<V1Pod> pods)
    {
        var lost = new List<(string Id, string Reason, V1Pod Old)>();
        lock (_gate)
        {
            ListCount++;
            var state = _namespaces[ns];
            var fresh = new Dictionary<string, V1Pod>(StringComparer.Ordinal);
            foreach (var pod in pods)
            {
                fresh[EnginePods.NameOf(pod)] = pod;
            }

            foreach (var (name, old) in state.Pods)
            {
                Compare(old, fresh.GetValueOrDefault(name), lost);
            }

            state.Pods.Clear();
            foreach (var (name, pod) in fresh)
            {
                state.Pods[name] = pod;
            }

            state.Synced.TrySetResult();
            Signal();
        }

        ReportLost(lost);
    }

    private void Apply(string ns, V1Pod pod, bool deleted)
    {
        var lost = new List<(string Id, string Reason, V1Pod Old)>();
        lock (_gate)
        {
            var pods = _namespaces[ns].Pods;
            var name = EnginePods.NameOf(pod);
            var old = pods.GetValueOrDefault(name);
            if (deleted)
            {
                pods.Remove(name);
                if (old is not null)
                {
                    Compare(old, null, lost);
                }
            }
            else
            {
                pods[name] = pod;
                if (old is not null)
                {
                    Compare(old, pod, lost);
                }
            }

            Signal();
        }

        ReportLost(lost);
    }

    private static void Compare(V1Pod old, V1Pod? current, List<(string Id, string Reason, V1Pod Old)> lost)
    {
        if (!EnginePods.IsServing(old))
        {
            return;
        }

        if (current is null)
        {
            lost.Add((EnginePods.EngineIdOf(old), "pod deleted", old));
        }
        else if (current.Metadata?.Uid != old.Metadata?.Uid)
        {
            lost.Add((EnginePods.EngineIdOf(old), "pod replaced", old));
        }
        else if (!EnginePods.IsServing(current))
        {
            lost.Add((EnginePods.EngineIdOf(old), $"pod no longer Running and Ready (phase {current.Status?.Phase})", old));
        }
    }

    private void ReportLost(List<(string Id, string Reason, V1Pod Old)> lost)
    {
        foreach (var (id, reason, _) in lost)
        {
            KubernetesLog.EngineLost(_logger, id, reason);

            // Its pooled HTTP/2 client goes with the report: pod addresses come and go, the pool must not keep them all.
            _lifecycle.ReportLost(id, "engine pod lost: " + reason);
        }
    }

    private void Signal()
    {
        var previous = _changed;
        _changed = NewSignal();
        previous.TrySetResult();
    }

    private sealed class NamespaceState
    {
        public Dictionary<string, V1Pod> Pods { get; } = new(StringComparer.Ordinal);

        public TaskCompletionSource Synced { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
