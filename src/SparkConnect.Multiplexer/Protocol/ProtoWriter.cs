using System.Text;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>
/// A minimal protobuf writer for the few small messages the gateway makes itself (google.rpc.Status and its details,
/// a ReleaseSessionResponse): a handful of fields do not justify a dependency on generated protos.
/// </summary>
internal sealed class ProtoWriter
{
    private readonly List<byte> _bytes = [];

    public ProtoWriter Varint(int field, ulong value)
    {
        Tag(field, ProtoWire.WireVarint);
        Raw(value);
        return this;
    }

    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, [.. message._bytes]);

    public byte[] ToArray() => [.. _bytes];

    private ProtoWriter Bytes(int field, byte[] value)
    {
        Tag(field, ProtoWire.WireLengthDelimited);
        Raw((ulong)value.Length);
        _bytes.AddRange(value);
        return this;
    }

    private void Tag(int field, int wireType) => Raw(((ulong)(uint)field << 3) | (uint)wireType);

    private void Raw(ulong value)
    {
        Span<byte> buffer = stackalloc byte[10];
        _bytes.AddRange(buffer[..ProtoWire.WriteVarint(buffer, value)]);
    }
}
