namespace SparkConnect.Multiplexer.Kubernetes;

/// <summary>
/// The Spark driver pod launched per engine key. The container runs <see cref="Command"/> (or the image's entrypoint)
/// with, in order: <see cref="Arguments"/>, the proxy-user arguments when <see cref="Impersonation"/> is on,
/// <c>--conf key=value</c> for <c>spark.connect.grpc.binding.port</c> and each of <see cref="Confs"/>, then
/// <see cref="TrailingArguments"/>.
/// </summary>
/// <remarks>
/// Values of <see cref="Arguments"/>, <see cref="TrailingArguments"/>, <see cref="ProxyUserArguments"/>,
/// <see cref="Confs"/> and <see cref="Environment"/> are templates; these placeholders are replaced per engine:
/// <c>{port}</c> (<see cref="Port"/>), <c>{user}</c> (the session's user for CONNECTION and USER engines, the group for
/// GROUP engines, <c>spark</c> for SERVER engines), <c>{owner}</c>, <c>{shareLevel}</c>, <c>{subdomain}</c>,
/// <c>{namespace}</c> and <c>{podName}</c>.
/// </remarks>
public sealed class KubernetesPodTemplateOptions
{
    /// <summary>The default of <see cref="ProxyUserArguments"/>: <c>--proxy-user {user}</c>.</summary>
    public static IReadOnlyList<string> DefaultProxyUserArguments { get; } = ["--proxy-user", "{user}"];

    /// <summary>The container image, for example <c>apache/spark:4.0.1</c>. Required when launching is on.</summary>
    public string Image { get; set; } = "";

    /// <summary>The image pull policy (<c>Always</c>, <c>IfNotPresent</c>, <c>Never</c>); default: the cluster's.</summary>
    public string? ImagePullPolicy { get; set; }

    /// <summary>The service account the driver runs as (it needs the RBAC Spark on Kubernetes needs for executors).</summary>
    public string? ServiceAccountName { get; set; }

    /// <summary>The prefix of launched pod names; a sanitized owner and a random suffix follow. Default <c>spark-connect-</c>.</summary>
    public string NamePrefix { get; set; } = "spark-connect-";

    /// <summary>The container's name. Default <c>spark-kubernetes-driver</c> (as Spark names its driver container).</summary>
    public string ContainerName { get; set; } = "spark-kubernetes-driver";

    /// <summary>The container's command; empty (the default) runs the image's entrypoint.</summary>
    public IList<string> Command { get; } = [];

    /// <summary>Argument templates, first. Empty by default.</summary>
    public IList<string> Arguments { get; } = [];

    /// <summary>Argument templates, last (for example the primary resource <c>spark-internal</c>). Empty by default.</summary>
    public IList<string> TrailingArguments { get; } = [];

    /// <summary>The Spark Connect port the driver listens on (a container port named after the locator's <c>PortName</c>, and the port label). Default 15002.</summary>
    public int Port { get; set; } = 15002;

    /// <summary>Spark confs appended as <c>--conf key=value</c> each; values are templates. Empty by default.</summary>
    public IDictionary<string, string> Confs { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The argument that precedes each conf. Default <c>--conf</c>.</summary>
    public string ConfArgumentName { get; set; } = "--conf";

    /// <summary>
    /// Adds <see cref="ProxyUserArguments"/> so the driver runs queries as the user it serves. Default
    /// <see langword="false"/>. Not applied to SERVER engines.
    /// </summary>
    public bool Impersonation { get; set; }

    /// <summary>The proxy-user argument templates; when not set, <see cref="DefaultProxyUserArguments"/>.</summary>
    public IList<string>? ProxyUserArguments { get; set; }

    /// <summary>Environment variables of the container; values are templates. <c>SPARK_DRIVER_BIND_ADDRESS</c> is always set to the pod IP.</summary>
    public IDictionary<string, string> Environment { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>CPU request, for example <c>1</c> or <c>500m</c>; default none.</summary>
    public string? CpuRequest { get; set; }

    /// <summary>CPU limit; default none.</summary>
    public string? CpuLimit { get; set; }

    /// <summary>Memory request, for example <c>2Gi</c>; default none.</summary>
    public string? MemoryRequest { get; set; }

    /// <summary>Memory limit; default none.</summary>
    public string? MemoryLimit { get; set; }

    /// <summary>Extra labels of launched pods (the engine-key labels are added).</summary>
    public IDictionary<string, string> Labels { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Extra annotations of launched pods.</summary>
    public IDictionary<string, string> Annotations { get; } = new Dictionary<string, string>(StringComparer.Ordinal);
}
