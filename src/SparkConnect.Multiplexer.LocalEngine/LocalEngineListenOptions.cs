using System.Net;

namespace SparkConnect.Multiplexer.LocalEngine;

/// <summary>Where a standalone local engine listens and the credential it asks every call for.</summary>
public sealed class LocalEngineListenOptions
{
    /// <summary>The shortest <see cref="AccessToken"/> accepted: 16 characters.</summary>
    public const int MinAccessTokenLength = 16;

    /// <summary>The address to listen on (default 127.0.0.1). Any other than a loopback address needs an <see cref="AccessToken"/>.</summary>
    public IPAddress Address { get; set; } = IPAddress.Loopback;

    /// <summary>The port; 0 (the default) picks a free one.</summary>
    public int Port { get; set; }

    /// <summary>
    /// When set, every call must carry <c>authorization: Bearer &lt;AccessToken&gt;</c> (compared in constant time);
    /// others get <c>UNAUTHENTICATED</c> before any of their request is read. Give a gateway the same value as the
    /// engine's token (a static engine's <c>Token</c>). At least 16 characters; 32 random bytes in hex is a good one.
    /// Embedded engines (<c>AddLocalEngines()</c>) each get their own random token and need no setting.
    /// </summary>
    public string? AccessToken { get; set; }

    /// <summary>Checks the settings and returns every problem found, each saying how to fix it (empty when valid).</summary>
    /// <returns>The problems, one message each.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Address is null)
        {
            errors.Add("The listen address is missing; use 127.0.0.1 unless other machines must reach the engine.");
        }
        else if (!IPAddress.IsLoopback(Address) && string.IsNullOrEmpty(AccessToken))
        {
            errors.Add($"The engine would listen on {Address}, beyond loopback, without an access token: anyone who reaches the port could run SQL as any user. Set an access token (--token or SPARK_CONNECT_AUTHENTICATE_TOKEN in the Host sample), or listen on 127.0.0.1.");
        }

        if (Port is < 0 or > 65535)
        {
            errors.Add($"The port {Port} is out of range; use 0 (a free port) to 65535.");
        }

        if (AccessToken is not null && (AccessToken.Length < MinAccessTokenLength || AccessToken.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            errors.Add($"The access token must be at least {MinAccessTokenLength} characters without spaces or control characters; for example the output of 'openssl rand -hex 32'.");
        }

        return errors;
    }
}
