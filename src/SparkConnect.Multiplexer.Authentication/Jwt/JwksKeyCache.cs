using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using SparkConnect.Multiplexer.Authentication.Internal;

namespace SparkConnect.Multiplexer.Authentication.Jwt;

/// <summary>
/// The signing keys of the configured JWKS URL: fetched on first use, kept for the cache duration, fetched again when
/// a token names an unknown key id — never more often than the minimum refresh interval, and one fetch at a time.
/// A failed fetch keeps the keys already known.
/// </summary>
internal sealed class JwksKeyCache(
    IHttpClientFactory httpClientFactory,
    IOptions<JwtAuthenticationOptions> options,
    TimeProvider time,
    ILogger<JwksKeyCache> logger) : IDisposable
{
    public const string HttpClientName = "SparkConnect.Multiplexer.Authentication.Jwks";

    private readonly SemaphoreSlim _fetchLock = new(1, 1);
    private volatile KeySet? _keys;
    private long _lastAttempt = long.MinValue;

    /// <summary>The keys to validate a token whose header names <paramref name="keyId"/>; empty when none could be had.</summary>
    public async ValueTask<IReadOnlyList<SecurityKey>> GetKeysAsync(string? keyId, CancellationToken cancellationToken)
    {
        var keys = _keys;
        if (keys is not null && !IsStale(keys) && (string.IsNullOrEmpty(keyId) || keys.KeyIds.Contains(keyId)))
        {
            return keys.Keys;
        }

        await _fetchLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Another call may have fetched while this one waited.
            keys = _keys;
            if (keys is not null && !IsStale(keys) && (string.IsNullOrEmpty(keyId) || keys.KeyIds.Contains(keyId)))
            {
                return keys.Keys;
            }

            var options1 = options.Value;
            var now = time.GetTimestamp();
            var last = Interlocked.Read(ref _lastAttempt);
            if (last != long.MinValue && time.GetElapsedTime(last, now) < options1.JwksMinimumRefreshInterval)
            {
                if (!string.IsNullOrEmpty(keyId))
                {
                    AuthenticationLog.JwksRefreshRateLimited(logger, keyId, options1.JwksMinimumRefreshInterval);
                }

                return keys?.Keys ?? [];
            }

            Interlocked.Exchange(ref _lastAttempt, now);
            return await FetchAsync(options1, keys, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _fetchLock.Release();
        }
    }

    public void Dispose() => _fetchLock.Dispose();

    private bool IsStale(KeySet keys) => time.GetElapsedTime(keys.FetchedAt) >= options.Value.JwksCacheDuration;

    private async Task<IReadOnlyList<SecurityKey>> FetchAsync(JwtAuthenticationOptions options1, KeySet? previous, CancellationToken cancellationToken)
    {
        var url = options1.JwksUrl!;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options1.JwksFetchTimeout);
            using var client = httpClientFactory.CreateClient(HttpClientName);
            var json = await client.GetStringAsync(url, timeout.Token).ConfigureAwait(false);
            var set = new JsonWebKeySet(json) { SkipUnresolvedJsonWebKeys = true };
            var signingKeys = set.GetSigningKeys().ToArray();
            var ids = signingKeys.Select(k => k.KeyId).Where(k => !string.IsNullOrEmpty(k)).ToHashSet(StringComparer.Ordinal);
            var fresh = new KeySet(signingKeys, ids, time.GetTimestamp());
            _keys = fresh;
            AuthenticationLog.JwksFetched(logger, signingKeys.Length, url);
            return fresh.Keys;
        }
        catch (Exception e) when (e is HttpRequestException or ArgumentException or System.Text.Json.JsonException or OperationCanceledException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            AuthenticationLog.JwksFetchFailed(logger, url, previous?.Keys.Count ?? 0, e);
            return previous?.Keys ?? [];
        }
    }

    private sealed record KeySet(IReadOnlyList<SecurityKey> Keys, HashSet<string> KeyIds, long FetchedAt);
}
