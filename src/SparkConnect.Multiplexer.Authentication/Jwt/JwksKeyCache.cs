using System.Buffers;
using System.Globalization;
using System.Text;
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
            var json = await ReadBoundedAsync(client, url, options1.JwksMaxResponseBytes, timeout.Token).ConfigureAwait(false);
            var set = new JsonWebKeySet(json) { SkipUnresolvedJsonWebKeys = true };
            var signingKeys = set.GetSigningKeys().ToArray();
            var ids = signingKeys.Select(k => k.KeyId).Where(k => !string.IsNullOrEmpty(k)).ToHashSet(StringComparer.Ordinal);
            var fresh = new KeySet(signingKeys, ids, time.GetTimestamp());
            _keys = fresh;
            AuthenticationLog.JwksFetched(logger, signingKeys.Length, url);
            return fresh.Keys;
        }
        catch (JwksTooLargeException e)
        {
            AuthenticationLog.JwksTooLarge(logger, url, e.Size, options1.JwksMaxResponseBytes, previous?.Keys.Count ?? 0);
            return previous?.Keys ?? [];
        }
        catch (Exception e) when (e is HttpRequestException or ArgumentException or System.Text.Json.JsonException or OperationCanceledException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            AuthenticationLog.JwksFetchFailed(logger, url, previous?.Keys.Count ?? 0, e);
            return previous?.Keys ?? [];
        }
    }

    /// <summary>
    /// The document as text, read no further than <paramref name="limit"/> bytes: a Content-Length above it is refused
    /// before the body is read, and a body without one is counted as it arrives.
    /// </summary>
    private static async Task<string> ReadBoundedAsync(HttpClient client, Uri url, long limit, CancellationToken cancellationToken)
    {
        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        if (response.Content.Headers.ContentLength is long length && length > limit)
        {
            throw new JwksTooLargeException(length.ToString(CultureInfo.InvariantCulture));
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var body = new MemoryStream();
            var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (body.Length + read > limit)
                    {
                        throw new JwksTooLargeException("more than " + limit.ToString(CultureInfo.InvariantCulture));
                    }

                    body.Write(buffer, 0, read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            return Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)body.Length);
        }
    }

    private sealed class JwksTooLargeException(string size) : Exception(size)
    {
        public string Size { get; } = size;
    }

    private sealed record KeySet(IReadOnlyList<SecurityKey> Keys, HashSet<string> KeyIds, long FetchedAt);
}
