using System.Security.Cryptography;
using System.Text;

namespace SparkConnect.Multiplexer.Engines;

/// <summary>
/// The credential a gateway presents to an engine it started (<see cref="EngineEndpoint.AccessToken"/>, sent as
/// <c>authorization: Bearer</c>, as Spark 4's <c>spark.connect.authenticate.token</c>): made here for every launched
/// (<c>{engineToken}</c>) and embedded engine, and checked here by engines that run in .NET.
/// </summary>
internal static class EngineAccessToken
{
    /// <summary>A fresh token: 32 random bytes from the system's CSPRNG, as 64 lower-case hex digits.</summary>
    public static string Create() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

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
