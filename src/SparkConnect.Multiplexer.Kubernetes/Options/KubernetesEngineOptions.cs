namespace SparkConnect.Multiplexer.Kubernetes;

/// <summary>
/// Settings of the Kubernetes engine locator (<c>AddKubernetesEngines()</c>), bound from the
/// <c>SparkConnectGateway:Kubernetes</c> configuration section and validated at start-up. The locator keeps a
/// watch-based cache of the engine pods in <see cref="Namespaces"/>, hands out the Running and Ready pod whose labels
/// match a session's engine key, launches a driver pod from <see cref="PodTemplate"/> when none does, and deletes
/// the pods it launched once they have had no session for <see cref="EngineIdleTimeout"/>.
/// </summary>
public sealed class KubernetesEngineOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = SparkConnectGatewayOptions.SectionName + ":Kubernetes";

    /// <summary>The default of <see cref="PortLabel"/>: <c>kyuubi.apache.org/spark-connect-port</c>.</summary>
    public const string DefaultPortLabel = "kyuubi.apache.org/spark-connect-port";

    /// <summary>The default of <see cref="PortName"/>: <c>spark-connect</c>.</summary>
    public const string DefaultPortName = "spark-connect";

    /// <summary>
    /// The API server's URL, for example <c>http://127.0.0.1:8001</c> behind <c>kubectl proxy</c>. When set, it is used
    /// as is (with <see cref="AccessToken"/> when given) and no kubeconfig is read. Default: not set.
    /// </summary>
    public Uri? Server { get; set; }

    /// <summary>A bearer token sent to <see cref="Server"/>; only used with <see cref="Server"/>. Never logged.</summary>
    public string? AccessToken { get; set; }

    /// <summary>
    /// The kubeconfig file to read. When neither this nor <see cref="Server"/> is set, the in-cluster configuration
    /// (service account token, <c>KUBERNETES_SERVICE_HOST</c>) is used inside a pod, and the default kubeconfig
    /// (<c>KUBECONFIG</c>, else <c>~/.kube/config</c>) elsewhere. Default: not set.
    /// </summary>
    public string? KubeConfigPath { get; set; }

    /// <summary>The kubeconfig context to use; default: the file's current context.</summary>
    public string? KubeConfigContext { get; set; }

    /// <summary>
    /// The namespaces engine pods are found and launched in: an allow-list. The first is used when a client names
    /// none; a client that names another (see <see cref="NamespaceHints"/>) is refused with PERMISSION_DENIED.
    /// Required, at least one.
    /// </summary>
    public IList<string> Namespaces { get; } = [];

    /// <summary>
    /// Routing hints (gRPC metadata, <c>;key=value</c> in an <c>sc://</c> connection string) a client may use to
    /// choose a namespace from <see cref="Namespaces"/>. Default <c>namespace</c> and <c>spark.kubernetes.namespace</c>.
    /// </summary>
    public IList<string> NamespaceHints { get; } = ["namespace", "spark.kubernetes.namespace"];

    /// <summary>The label names that carry an engine key.</summary>
    public KubernetesEngineLabelOptions Labels { get; } = new();

    /// <summary>
    /// A pod label, or else annotation, whose value is the Spark Connect port of the engine. Default
    /// <see cref="DefaultPortLabel"/>. When the pod has neither, the container port named <see cref="PortName"/> is used.
    /// </summary>
    public string PortLabel { get; set; } = DefaultPortLabel;

    /// <summary>The name of the container port that serves Spark Connect. Default <see cref="DefaultPortName"/>.</summary>
    public string PortName { get; set; } = DefaultPortName;

    /// <summary>
    /// How often the pod cache is rebuilt from a full list even when the watch is healthy (a safety net for missed
    /// events). Default 10 minutes.
    /// </summary>
    public TimeSpan ResyncInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long to wait before watching again after the API server could not be reached. Default 2 s.</summary>
    public TimeSpan WatchRetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Launches a driver pod from <see cref="PodTemplate"/> when no Ready pod serves an engine key. When
    /// <see langword="false"/>, such a request gets UNAVAILABLE (engines are started by something else). Default
    /// <see langword="true"/>.
    /// </summary>
    public bool LaunchEngines { get; set; } = true;

    /// <summary>The driver pod launched per engine key.</summary>
    public KubernetesPodTemplateOptions PodTemplate { get; } = new();

    /// <summary>
    /// How long a launched pod may take, from the request that creates it, to be Running and Ready; after it the pod
    /// is deleted and the waiting clients get UNAVAILABLE with a summary of its status and recent events.
    /// Default 180 s.
    /// </summary>
    public TimeSpan InitializationTimeout { get; set; } = TimeSpan.FromSeconds(180);

    /// <summary>
    /// A launched engine pod with no session (in the session store) for this long is deleted. Pods the gateway did
    /// not launch are never deleted. Default 30 minutes.
    /// </summary>
    public TimeSpan EngineIdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How often idle and terminated engine pods are looked for. Default 30 s.</summary>
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>What happens to launched engine pods that ended (phase Failed or Succeeded). Default <see cref="TerminatedPodPolicy.Delete"/>.</summary>
    public TerminatedPodPolicy TerminatedPods { get; set; } = TerminatedPodPolicy.Delete;

    /// <summary>
    /// The most launched engine pods (marked with <see cref="KubernetesEngineLabelOptions.ManagedBy"/>, not ended, not
    /// being deleted) in <see cref="Namespaces"/> together; a session that would need one more gets
    /// <c>RESOURCE_EXHAUSTED</c> naming this option. Counted from the pods themselves, so it holds across gateway
    /// replicas and restarts (two replicas launching at the same instant may each take the last slot). Default 50;
    /// 0 means no limit.
    /// </summary>
    /// <remarks>Each engine is a Spark driver pod plus its executors; 50 drivers is already a large cluster's worth.</remarks>
    public int MaxEngines { get; set; } = 50;

    /// <summary>
    /// The most launched engine pods one user's requests may have caused (label
    /// <see cref="KubernetesEngineLabelOptions.LaunchedBy"/>), whatever their share level; over it the session gets
    /// <c>RESOURCE_EXHAUSTED</c> naming this option. A Ready pod that already serves the session's key is always handed
    /// out. Default 5; 0 means no limit.
    /// </summary>
    /// <remarks>
    /// 5 leaves room for a user's own engine, a few subdomains and CONNECTION sessions, while no single user can take
    /// more than a tenth of the default <see cref="MaxEngines"/>.
    /// </remarks>
    public int MaxEnginesPerUser { get; set; } = 5;

    /// <summary>
    /// Key patterns whose values are masked (<c>***</c>) in the text a failed launch reports to the client and the log
    /// (the API server's answer, pod and container status messages, events). A pattern is a key name in which
    /// <c>*</c> stands for any characters, matched case-insensitively. When not set (<see langword="null"/>, the
    /// default), <c>*key*</c>, <c>*token*</c>, <c>*secret*</c>, <c>*password*</c> and <c>*credential*</c>; setting it
    /// replaces them. <c>Bearer</c>/<c>Basic</c> credentials and URL passwords are always masked. The same rule as
    /// <c>ProcessEngines:RedactedKeyPatterns</c>.
    /// </summary>
    public IList<string>? RedactedKeyPatterns { get; set; }
}

/// <summary>The label names that carry an engine key; values are sanitized to valid label values.</summary>
public sealed class KubernetesEngineLabelOptions
{
    /// <summary>The share level label (values <c>CONNECTION</c>, <c>USER</c>, <c>GROUP</c>, <c>SERVER</c>). Default <c>spark-connect-multiplexer/share-level</c>.</summary>
    public string ShareLevel { get; set; } = "spark-connect-multiplexer/share-level";

    /// <summary>The owner label (session id, user, group or <c>server</c>). Default <c>spark-connect-multiplexer/owner</c>.</summary>
    public string Owner { get; set; } = "spark-connect-multiplexer/owner";

    /// <summary>The subdomain label. Default <c>spark-connect-multiplexer/subdomain</c>.</summary>
    public string Subdomain { get; set; } = "spark-connect-multiplexer/subdomain";

    /// <summary>
    /// The label that marks pods this gateway launched (value <c>spark-connect-multiplexer</c>); only they are deleted
    /// when idle or terminated. Default <c>app.kubernetes.io/managed-by</c>.
    /// </summary>
    public string ManagedBy { get; set; } = "app.kubernetes.io/managed-by";

    /// <summary>
    /// The label that names the user whose session caused a launch, on pods this gateway launches; it counts the pod
    /// against <see cref="KubernetesEngineOptions.MaxEnginesPerUser"/>. Default <c>spark-connect-multiplexer/launched-by</c>.
    /// </summary>
    public string LaunchedBy { get; set; } = "spark-connect-multiplexer/launched-by";
}

/// <summary>What happens to launched engine pods that ended (phase Failed or Succeeded).</summary>
public enum TerminatedPodPolicy
{
    /// <summary>They are deleted.</summary>
    Delete,

    /// <summary>They are kept for inspection (delete them yourself).</summary>
    Keep,
}
