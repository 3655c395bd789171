using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace SparkConnect.Multiplexer.Authentication.Ldap;

/// <summary>
/// Remembers successful binds for a short time. The key is an HMAC-SHA256 of user and password under a random
/// per-process salt: the password itself is never kept, and a changed password misses the cache.
/// </summary>
internal sealed class LdapBindCache(TimeProvider time)
{
    private const int MaxEntries = 10_000;

    private readonly byte[] _salt = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public bool TryGet(string user, string password, out GatewayPrincipal principal)
    {
        principal = null!;
        var key = Key(user, password);
        if (!_entries.TryGetValue(key, out var entry))
        {
            return false;
        }

        if (time.GetUtcNow() >= entry.Expires)
        {
            _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
            return false;
        }

        principal = entry.Principal;
        return true;
    }

    public void Add(string user, string password, GatewayPrincipal principal, TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero)
        {
            return;
        }

        var now = time.GetUtcNow();
        if (_entries.Count >= MaxEntries)
        {
            foreach (var (key, entry) in _entries)
            {
                if (now >= entry.Expires)
                {
                    _entries.TryRemove(key, out _);
                }
            }

            if (_entries.Count >= MaxEntries)
            {
                _entries.Clear();
            }
        }

        _entries[Key(user, password)] = new Entry(principal, now + duration);
    }

    private string Key(string user, string password)
    {
        var bytes = Encoding.UTF8.GetBytes(user + "\0" + password);
        try
        {
            return Convert.ToHexString(HMACSHA256.HashData(_salt, bytes));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    private sealed record Entry(GatewayPrincipal Principal, DateTimeOffset Expires);
}
