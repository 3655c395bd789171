using System.Buffers;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>
/// Buffers for whole engine answers the gateway reads (Config responses, filtered for secrets). Small ones come from
/// the shared pool (most answers are a few hundred bytes); large ones are plain arrays the GC reclaims, because the
/// shared pool keeps what it is given back — a few 100 MiB buffers would otherwise stay in the process for good.
/// (Inflated requests use <see cref="InflatedMessage"/> chunks instead.)
/// </summary>
internal static class MessageBuffers
{
    /// <summary>The largest buffer returned to the shared pool.</summary>
    public const int PooledLimit = 1024 * 1024;

    public static byte[] Rent(int minimumLength)
        => minimumLength <= PooledLimit ? ArrayPool<byte>.Shared.Rent(minimumLength) : GC.AllocateUninitializedArray<byte>(minimumLength);

    public static void Return(byte[] buffer)
    {
        if (buffer.Length is > 0 and <= PooledLimit)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
