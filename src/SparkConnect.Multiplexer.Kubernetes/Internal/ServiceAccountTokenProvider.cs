using System.Net.Http.Headers;
using k8s.Authentication;

namespace SparkConnect.Multiplexer.Kubernetes.Internal;

/// <summary>
/// The service account's bearer token, read from its file by KubernetesClient's <see cref="TokenFileAuth"/> and read
/// again at least every <c>refreshInterval</c> on <c>time</c>. Bound service account tokens expire (an hour by
/// default) and the kubelet rewrites the file before they do, so a token read once at start-up would stop working.
/// </summary>
/// <remarks>
/// <see cref="TokenFileAuth"/> already re-reads the file once a minute, but that minute is a private constant measured
/// on <see cref="DateTime.UtcNow"/>. A fresh <see cref="TokenFileAuth"/> per interval makes the bound ours: documented,
/// independent of the library's internals, and testable on a fake clock without waiting a minute.
/// </remarks>
internal sealed class ServiceAccountTokenProvider(string tokenFile, TimeSpan refreshInterval, TimeProvider time) : ITokenProvider
{
    private readonly Lock _gate = new();
    private TokenFileAuth? _current;
    private DateTimeOffset _readAgainAt;

    public Task<AuthenticationHeaderValue> GetAuthenticationHeaderAsync(CancellationToken cancellationToken)
    {
        TokenFileAuth current;
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (_current is null || now >= _readAgainAt)
            {
                // A new instance has no cached token, so its first call reads the file.
                _current = new TokenFileAuth(tokenFile);
                _readAgainAt = now + refreshInterval;
            }

            current = _current;
        }

        return current.GetAuthenticationHeaderAsync(cancellationToken);
    }
}
