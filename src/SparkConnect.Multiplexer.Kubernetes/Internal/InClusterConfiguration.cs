using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using k8s;
using k8s.Exceptions;

namespace SparkConnect.Multiplexer.Kubernetes.Internal;

/// <summary>
/// The configuration of a gateway that runs in a pod: the API server's service address (<c>KUBERNETES_SERVICE_HOST</c>
/// and <c>_PORT</c>) and the pod's service account (<c>token</c> and <c>ca.crt</c>). Built here rather than by
/// <see cref="KubernetesClientConfiguration.InClusterConfig"/>, which reads a fixed directory and the process
/// environment: tests give a temporary directory and a stand-in API server's address instead, without writing to
/// <c>/var/run</c> or changing environment variables that tests running in parallel share.
/// </summary>
internal sealed class InClusterConfiguration
{
    /// <summary>Where the kubelet mounts a pod's service account.</summary>
    public const string DefaultServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";

    public const string HostVariable = "KUBERNETES_SERVICE_HOST";

    public const string PortVariable = "KUBERNETES_SERVICE_PORT";

    /// <summary>
    /// How often the token file is read again: every minute, as client-go and KubernetesClient do. The kubelet writes a
    /// new bound token once 80% of the old one's lifetime (an hour by default) has passed, so a copy read a minute ago
    /// is still valid.
    /// </summary>
    public static readonly TimeSpan DefaultTokenRefreshInterval = TimeSpan.FromMinutes(1);

    private readonly TimeProvider _time;

    public InClusterConfiguration(string serviceAccountDirectory, string? serviceHost, string? servicePort, TimeSpan tokenRefreshInterval, TimeProvider time)
    {
        ServiceAccountDirectory = serviceAccountDirectory;
        ServiceHost = serviceHost;
        ServicePort = servicePort;
        TokenRefreshInterval = tokenRefreshInterval;
        _time = time;
    }

    public string ServiceAccountDirectory { get; }

    public string? ServiceHost { get; }

    public string? ServicePort { get; }

    public TimeSpan TokenRefreshInterval { get; }

    public string TokenPath => Path.Combine(ServiceAccountDirectory, "token");

    public string CaPath => Path.Combine(ServiceAccountDirectory, "ca.crt");

    /// <summary>
    /// Why this process is not taken to run in a pod, or <see langword="null"/> when it is: the same test as
    /// <see cref="KubernetesClientConfiguration.IsInCluster"/> (both variables set, token and CA files present).
    /// </summary>
    public string? NotInClusterReason
        => string.IsNullOrEmpty(ServiceHost) || string.IsNullOrEmpty(ServicePort) ? $"{HostVariable} and {PortVariable} are not both set"
            : !File.Exists(TokenPath) ? $"{TokenPath} does not exist"
            : !File.Exists(CaPath) ? $"{CaPath} does not exist"
            : null;

    private string NoCertificate => $"{CaPath} holds no PEM certificate";

    /// <summary>The standard service account directory, and the host and port from the process environment.</summary>
    public static InClusterConfiguration FromEnvironment(TimeProvider time) => FromEnvironment(Environment.GetEnvironmentVariable, time);

    /// <summary>The standard service account directory, and the host and port read through <paramref name="variable"/>.</summary>
    public static InClusterConfiguration FromEnvironment(Func<string, string?> variable, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(variable);
        return new InClusterConfiguration(DefaultServiceAccountDirectory, variable(HostVariable), variable(PortVariable), DefaultTokenRefreshInterval, time);
    }

    /// <summary>What makes the configuration of a process that runs in a pod unusable (for the start-up validator).</summary>
    public List<string> Problems()
    {
        var problems = new List<string>();
        if (!TryParsePort(out _))
        {
            problems.Add($"{PortVariable} '{ServicePort}' is not a TCP port (1 to 65535)");
        }

        try
        {
            var ca = LoadCa();
            if (ca.Count == 0)
            {
                problems.Add(NoCertificate);
            }

            foreach (var certificate in ca)
            {
                certificate.Dispose();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            problems.Add($"{CaPath} could not be read: {e.Message}");
        }

        return problems;
    }

    /// <summary>HTTPS to the service address, trusting only the service account's CA, with the token file re-read every <see cref="TokenRefreshInterval"/>.</summary>
    /// <exception cref="KubeConfigException">Not in a pod, or the port or CA file is unusable.</exception>
    public KubernetesClientConfiguration CreateConfiguration()
    {
        if (NotInClusterReason is { } reason)
        {
            throw new KubeConfigException($"The in-cluster configuration cannot be used: {reason}.");
        }

        if (!TryParsePort(out var port))
        {
            throw new KubeConfigException($"The in-cluster configuration cannot be used: {PortVariable} '{ServicePort}' is not a TCP port.");
        }

        var ca = LoadCa();
        if (ca.Count == 0)
        {
            throw new KubeConfigException($"The in-cluster configuration cannot be used: {NoCertificate}.");
        }

        // The file's namespace is not read: engine namespaces are always the configured allow-list.
        return new KubernetesClientConfiguration
        {
            // UriBuilder brackets an IPv6 service host (KUBERNETES_SERVICE_HOST=fd00::1 on IPv6 clusters).
            Host = new UriBuilder(Uri.UriSchemeHttps, ServiceHost, port).Uri.ToString(),
            TokenProvider = new ServiceAccountTokenProvider(TokenPath, TokenRefreshInterval, _time),
            SslCaCerts = ca,
        };
    }

    private bool TryParsePort(out int port)
        => int.TryParse(ServicePort, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;

    private X509Certificate2Collection LoadCa()
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(CaPath);
        return certificates;
    }
}
