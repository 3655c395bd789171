using System.Buffers;
using System.Text;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>The few protobuf wire-format primitives the envelope needs (https://protobuf.dev/programming-guides/encoding/).</summary>
internal static class ProtoWire
{
    public const int WireVarint = 0;
    public const int WireFixed64 = 1;
    public const int WireLengthDelimited = 2;
    public const int WireStartGroup = 3;
    public const int WireEndGroup = 4;
    public const int WireFixed32 = 5;

    private const int MaxGroupDepth = 100;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static bool TryReadVarint(ref SequenceReader<byte> reader, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (!reader.TryRead(out var b))
            {
                return false;
            }

            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Skips the value of a field whose tag has just been read; false when the bytes are not valid protobuf.</summary>
    public static bool TrySkipValue(ref SequenceReader<byte> reader, int fieldNumber, int wireType, int depth = 0)
    {
        switch (wireType)
        {
            case WireVarint:
                return TryReadVarint(ref reader, out _);
            case WireFixed64:
                return TryAdvance(ref reader, 8);
            case WireFixed32:
                return TryAdvance(ref reader, 4);
            case WireLengthDelimited:
                return TryReadLength(ref reader, out var length) && TryAdvance(ref reader, length);
            case WireStartGroup:
                if (depth >= MaxGroupDepth)
                {
                    return false;
                }

                while (TryReadTag(ref reader, out var innerField, out var innerWire))
                {
                    if (innerWire == WireEndGroup)
                    {
                        return innerField == fieldNumber;
                    }

                    if (!TrySkipValue(ref reader, innerField, innerWire, depth + 1))
                    {
                        return false;
                    }
                }

                return false;
            default:
                return false;
        }
    }

    public static bool TryReadTag(ref SequenceReader<byte> reader, out int fieldNumber, out int wireType)
    {
        fieldNumber = 0;
        wireType = 0;
        if (!TryReadVarint(ref reader, out var tag) || tag > uint.MaxValue)
        {
            return false;
        }

        fieldNumber = (int)(tag >> 3);
        wireType = (int)(tag & 7);
        return fieldNumber > 0;
    }

    public static bool TryReadLength(ref SequenceReader<byte> reader, out long length)
    {
        length = 0;
        if (!TryReadVarint(ref reader, out var raw) || raw > int.MaxValue || (long)raw > reader.Remaining)
        {
            return false;
        }

        length = (long)raw;
        return true;
    }

    public static bool TryReadString(ReadOnlySequence<byte> bytes, out string value)
    {
        try
        {
            value = StrictUtf8.GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            value = "";
            return false;
        }
    }

    public static int VarintSize(ulong value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }

        return size;
    }

    public static int WriteVarint(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }

    public static int WriteTag(Span<byte> destination, int fieldNumber, int wireType)
        => WriteVarint(destination, ((ulong)(uint)fieldNumber << 3) | (uint)wireType);

    /// <summary>Bytes taken by a length-delimited field with a one-byte tag and a payload of <paramref name="payloadLength"/>.</summary>
    public static int LengthDelimitedSize(int payloadLength) => 1 + VarintSize((ulong)payloadLength) + payloadLength;

    /// <summary>The payloads of every length-delimited occurrence of <paramref name="number"/> at the top level.</summary>
    public static List<ReadOnlySequence<byte>> LengthDelimitedFields(ReadOnlySequence<byte> message, int number)
    {
        var found = new List<ReadOnlySequence<byte>>();
        var reader = new SequenceReader<byte>(message);
        while (!reader.End && TryReadTag(ref reader, out var field, out var wireType))
        {
            if (field == number && wireType == WireLengthDelimited && TryReadLength(ref reader, out var length))
            {
                found.Add(message.Slice(reader.Consumed, length));
                reader.Advance(length);
            }
            else if (!TrySkipValue(ref reader, field, wireType))
            {
                break;
            }
        }

        return found;
    }

    private static bool TryAdvance(ref SequenceReader<byte> reader, long count)
    {
        if (reader.Remaining < count)
        {
            return false;
        }

        reader.Advance(count);
        return true;
    }
}
