using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Authenticators;

/// <summary>
/// Bearer tokens from configuration (<c>SparkConnectGateway:Authentication:Tokens</c>). Tokens are compared as
/// SHA-256 digests in constant time, against every entry, so neither the match nor its position leaks by timing.
/// An unknown token is not refused here: a later authenticator in the chain may recognise it.
/// </summary>
internal sealed class StaticTokenAuthenticator(IOptionsMonitor<SparkConnectGatewayOptions> options) : IAuthenticator
{
    private TokenTable? _table;

    public ValueTask<AuthenticationResult> AuthenticateAsync(AuthenticationContext context, CancellationToken cancellationToken)
    {
        if (context.BearerToken is not { } token)
        {
            return ValueTask.FromResult(AuthenticationResult.NoResult());
        }

        var table = CurrentTable();
        Span<byte> presented = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(token), presented);

        GatewayPrincipal? match = null;
        foreach (var entry in table.Entries)
        {
            if (CryptographicOperations.FixedTimeEquals(entry.Digest, presented))
            {
                match = entry.Principal;
            }
        }

        return ValueTask.FromResult(match is null ? AuthenticationResult.NoResult() : AuthenticationResult.Success(match));
    }

    private TokenTable CurrentTable()
    {
        // Rebuilt when configuration reloads (a new options instance), so rotated tokens apply without a restart.
        var current = options.CurrentValue.Authentication;
        var table = Volatile.Read(ref _table);
        if (table is null || !ReferenceEquals(table.Source, current))
        {
            table = new TokenTable(current);
            Volatile.Write(ref _table, table);
        }

        return table;
    }

    /// <summary>A token entry's digest, from the token or from its configured hex digest; null when neither is usable.</summary>
    internal static byte[]? DigestOf(StaticTokenOptions token)
    {
        if (!string.IsNullOrEmpty(token.Token))
        {
            return SHA256.HashData(Encoding.UTF8.GetBytes(token.Token));
        }

        try
        {
            var digest = Convert.FromHexString(token.TokenSha256);
            return digest.Length == SHA256.HashSizeInBytes ? digest : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private sealed class TokenTable
    {
        public TokenTable(GatewayAuthenticationOptions source)
        {
            Source = source;
            Entries = source.Tokens
                .Where(t => !string.IsNullOrWhiteSpace(t.User) && DigestOf(t) is not null)
                .Select(t => (DigestOf(t)!, new GatewayPrincipal(t.User, t.Groups)))
                .ToArray();
        }

        public GatewayAuthenticationOptions Source { get; }

        public (byte[] Digest, GatewayPrincipal Principal)[] Entries { get; }
    }
}
