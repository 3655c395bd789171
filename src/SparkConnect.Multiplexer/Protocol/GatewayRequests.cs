using System.Buffers.Binary;
using System.Text;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>The few Spark Connect requests the gateway sends on its own (probes, releasing expired sessions), hand-encoded.</summary>
internal static class GatewayRequests
{
    public const string ClientType = "spark-connect-multiplexer";

    /// <summary>ConfigRequest { session_id, user_context, operation { get_all { prefix } }, client_type }: answered by every Spark Connect server and never an error.</summary>
    public static byte[] ConfigGetAll(string sessionId, string user, string prefix)
    {
        var getAll = Field(1, Encoding.UTF8.GetBytes(prefix));
        var operation = Field(5, getAll);
        return Frame([.. Field(1, Encoding.UTF8.GetBytes(sessionId)), .. UserContext(user), .. Field(3, operation), .. Field(4, Encoding.UTF8.GetBytes(ClientType))]);
    }

    /// <summary>ReleaseSessionRequest { session_id, user_context, client_type }.</summary>
    public static byte[] ReleaseSession(string sessionId, string user)
        => Frame([.. Field(1, Encoding.UTF8.GetBytes(sessionId)), .. UserContext(user), .. Field(3, Encoding.UTF8.GetBytes(ClientType))]);

    private static byte[] UserContext(string user)
    {
        var name = Encoding.UTF8.GetBytes(user);
        return Field(2, [.. Field(1, name), .. Field(2, name)]);
    }

    private static byte[] Field(int number, byte[] payload)
    {
        Span<byte> prefix = stackalloc byte[16];
        var length = ProtoWire.WriteTag(prefix, number, ProtoWire.WireLengthDelimited);
        length += ProtoWire.WriteVarint(prefix[length..], (ulong)payload.Length);
        return [.. prefix[..length], .. payload];
    }

    /// <summary>A message as an uncompressed gRPC frame (flag, length, bytes).</summary>
    public static byte[] Frame(byte[] message)
    {
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }
}
