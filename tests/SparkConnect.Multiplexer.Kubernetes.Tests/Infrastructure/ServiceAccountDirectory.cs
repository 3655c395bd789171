using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using SparkConnect.Multiplexer.Kubernetes.Internal;

namespace SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;

/// <summary>
/// What the kubelet mounts at <c>/var/run/secrets/kubernetes.io/serviceaccount</c> (token, ca.crt, namespace), in a
/// temporary directory that is deleted on dispose.
/// </summary>
internal sealed class ServiceAccountDirectory : IDisposable
{
    public ServiceAccountDirectory(string token, X509Certificate2? authority = null)
    {
        Path = Directory.CreateTempSubdirectory("serviceaccount-").FullName;
        WriteToken(token);
        if (authority is not null)
        {
            File.WriteAllText(CaPath, authority.ExportCertificatePem());
        }

        File.WriteAllText(System.IO.Path.Combine(Path, "namespace"), "gateway");
    }

    /// <summary>A configuration that is not in a pod, so tests do not depend on where they run.</summary>
    public static InClusterConfiguration NotInCluster { get; } = new("/nonexistent/serviceaccount", null, null, InClusterConfiguration.DefaultTokenRefreshInterval, TimeProvider.System);

    public string Path { get; }

    public string TokenPath => System.IO.Path.Combine(Path, "token");

    public string CaPath => System.IO.Path.Combine(Path, "ca.crt");

    /// <summary>Replaces the token file in one rename, as the kubelet's atomic writer does, so no reader sees it half written.</summary>
    public void WriteToken(string token)
    {
        var next = TokenPath + ".next";
        File.WriteAllText(next, token);
        File.Move(next, TokenPath, overwrite: true);
    }

    /// <summary>In-cluster configuration from this directory, with the service address of <paramref name="apiServer"/>.</summary>
    public InClusterConfiguration Configuration(Uri apiServer, TimeProvider time, TimeSpan? tokenRefreshInterval = null)
        => new(Path, apiServer.Host, apiServer.Port.ToString(CultureInfo.InvariantCulture), tokenRefreshInterval ?? InClusterConfiguration.DefaultTokenRefreshInterval, time);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
