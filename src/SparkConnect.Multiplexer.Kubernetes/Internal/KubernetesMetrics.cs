using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace SparkConnect.Multiplexer.Kubernetes.Internal;

/// <summary>
/// The package's instruments, on one <see cref="Meter"/> named after the package. Every measurement carries the
/// namespace (<c>k8s.namespace.name</c>): an allow-list from the options, so a small, fixed set of values.
/// </summary>
internal sealed class KubernetesMetrics
{
    public const string MeterName = "SparkConnect.Multiplexer.Kubernetes";

    public const string NamespaceTag = "k8s.namespace.name";

    private readonly Meter _meter;
    private readonly Counter<long> _launched;
    private readonly Histogram<double> _launchDuration;
    private readonly Counter<long> _deleted;
    private readonly Counter<long> _watchRestarts;

    public KubernetesMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(MeterName);
        _launched = _meter.CreateCounter<long>("spark_connect.kubernetes.engines.launched", "{engine}", "Engine pod launches (created, or adopted while starting, then waited for), by outcome (ready, timeout, failed).");
        _launchDuration = _meter.CreateHistogram<double>("spark_connect.kubernetes.engine.launch.duration", "s", "Time from an engine pod launch until it was Running and Ready or failed, by outcome.");
        _deleted = _meter.CreateCounter<long>("spark_connect.kubernetes.pods.deleted", "{pod}", "Engine pods this gateway deleted, by reason (idle, terminated, timeout).");
        _watchRestarts = _meter.CreateCounter<long>("spark_connect.kubernetes.watch.restarts", "{restart}", "Pod watches started again, by kind (resumed: from the last resourceVersion; gone and resync: after a full list; failed: after an API server error).");
    }

    /// <summary>A launch ended with <paramref name="outcome"/> (<see cref="LaunchOutcome"/>); <paramref name="startTimestamp"/> is from <see cref="Stopwatch.GetTimestamp"/>.</summary>
    public void LaunchEnded(string ns, string outcome, long startTimestamp)
    {
        var tags = new TagList { { NamespaceTag, ns }, { "outcome", outcome } };
        _launched.Add(1, tags);
        _launchDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
    }

    /// <summary>The API server accepted the deletion of an engine pod, for <paramref name="reason"/> (<see cref="DeleteReason"/>).</summary>
    public void PodDeleted(string ns, string reason)
        => _deleted.Add(1, new TagList { { NamespaceTag, ns }, { "reason", reason } });

    /// <summary>A namespace's watch is started again, for <paramref name="kind"/> (<see cref="WatchRestart"/>).</summary>
    public void WatchRestarted(string ns, string kind)
        => _watchRestarts.Add(1, new TagList { { NamespaceTag, ns }, { "kind", kind } });

    /// <summary>
    /// Publishes the gauge of engine pods known Running and Ready; <paramref name="observe"/> reads the pod cache,
    /// which cannot take this class in its constructor and be observed by it at the same time.
    /// </summary>
    public void ObserveReadyPods(Func<IEnumerable<Measurement<long>>> observe)
        => _meter.CreateObservableGauge("spark_connect.kubernetes.pods.ready", observe, "{pod}", "Engine pods the watch cache knows as Running and Ready, by namespace (only namespaces listed at least once).");

    public static KeyValuePair<string, object?> Namespace(string ns) => new(NamespaceTag, ns);

    /// <summary>Values of the <c>outcome</c> tag.</summary>
    public static class LaunchOutcome
    {
        public const string Ready = "ready";
        public const string Timeout = "timeout";
        public const string Failed = "failed";
    }

    /// <summary>Values of the <c>reason</c> tag of deleted pods.</summary>
    public static class DeleteReason
    {
        /// <summary>No session for <see cref="KubernetesEngineOptions.EngineIdleTimeout"/>.</summary>
        public const string Idle = "idle";

        /// <summary>Phase Failed or Succeeded (at clean-up, or during its launch).</summary>
        public const string Terminated = "terminated";

        /// <summary>Not Ready within <see cref="KubernetesEngineOptions.InitializationTimeout"/>.</summary>
        public const string Timeout = "timeout";

        /// <summary>Reported gone through <see cref="IEngineLifecycle"/> (health probes failed, say) while Kubernetes still called it Ready.</summary>
        public const string Lost = "lost";
    }

    /// <summary>Values of the <c>kind</c> tag of watch restarts.</summary>
    public static class WatchRestart
    {
        /// <summary>The stream ended (the API server's watch timeout); watched again from the last resourceVersion, without a list.</summary>
        public const string Resumed = "resumed";

        /// <summary>410 Gone: the resourceVersion was compacted away; listed again.</summary>
        public const string Gone = "gone";

        /// <summary><see cref="KubernetesEngineOptions.ResyncInterval"/> passed; listed again.</summary>
        public const string Resync = "resync";

        /// <summary>The API server could not be reached or refused; tried again after <see cref="KubernetesEngineOptions.WatchRetryDelay"/>.</summary>
        public const string Failed = "failed";
    }
}
