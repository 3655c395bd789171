using System.Security.Cryptography;
using System.Text;

namespace SparkConnect.Multiplexer;

/// <summary>
/// The credential a gateway presents to an engine it started (<see cref="EngineEndpoint.AccessToken"/>, sent as
/// <c>authorization: Bearer</c>, as Spark 4's <c>spark.connect.authenticate.token</c>): made here for every launched
/// (<c>{engineToken}</c>) and embedded engine, and checked here by engines that run in .NET. Public for launchers and
/// .NET engines written by others, so they make and check the same tokens.
/// </summary>
/// <remarks>
/// A random token (<see cref="Create"/>) is known only to the process that made it. Gateway replicas that share engines
/// through ZooKeeper derive it instead (<see cref="Derive"/>) from a secret all of them are configured with and the
/// engine's id, which every replica reads from the engine's node: any replica can then present the credential of an
/// engine another one launched, and the node itself never carries a credential.
/// </remarks>
public static class EngineAccessToken
{
    /// <summary>The shortest secret <see cref="Derive"/> is used with (32 characters, e.g. <c>openssl rand -hex 32</c> gives 64).</summary>
    public const int MinSecretLength = 32;

    private const string DerivationLabel = "spark-connect-multiplexer/engine-token/v1\n";

    /// <summary>A fresh token: 32 random bytes from the system's CSPRNG, as 64 lower-case hex digits.</summary>
    public static string Create() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// The token of engine <paramref name="engineId"/> under <paramref name="secret"/>: HMAC-SHA256 of a fixed label and
    /// the engine id, keyed with the secret, as 64 lower-case hex digits. The label keeps these tokens apart from any
    /// other use of the same secret; knowing one engine's token tells nothing about another's, or about the secret.
    /// </summary>
    public static string Derive(string secret, string engineId)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        ArgumentException.ThrowIfNullOrEmpty(engineId);
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(DerivationLabel + engineId));
        return Convert.ToHexStringLower(mac);
    }

    /// <summary>
    /// Whether <paramref name="authorization"/> (the request's <c>authorization</c> header) is <c>Bearer</c>
    /// <paramref name="token"/>. The comparison takes the same time whatever the presented value has in common
    /// with the token (only its length shows, and the length of a token is no secret).
    /// </summary>
    public static bool IsPresented(string? authorization, string token)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        var expected = Encoding.UTF8.GetBytes("Bearer " + token);
        var presented = Encoding.UTF8.GetBytes(authorization ?? "");
        return CryptographicOperations.FixedTimeEquals(presented, expected);
    }
}
