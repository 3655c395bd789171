using System.Buffers;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>
/// The two places the gateway looks inside Config messages: the keys a ConfigRequest sets or unsets
/// (<c>operation = 3 { set = 1 { pairs = 1 { key = 1 } } | unset = 6 { keys = 1 } }</c>), and the pairs of a
/// ConfigResponse (<c>pairs = 2 { key = 1 }</c>), to drop secrets. Everything else passes as bytes.
/// </summary>
internal static class ConfigMessages
{
    public static IReadOnlyList<string> ChangedKeys(ReadOnlySequence<byte> request)
    {
        var keys = new List<string>();
        foreach (var operation in ProtoWire.LengthDelimitedFields(request, 3))
        {
            foreach (var set in ProtoWire.LengthDelimitedFields(operation, 1))
            {
                foreach (var pair in ProtoWire.LengthDelimitedFields(set, 1))
                {
                    keys.AddRange(ProtoWire.LengthDelimitedFields(pair, 1).Select(String));
                }
            }

            foreach (var unset in ProtoWire.LengthDelimitedFields(operation, 6))
            {
                keys.AddRange(ProtoWire.LengthDelimitedFields(unset, 1).Select(String));
            }
        }

        return keys;
    }

    /// <summary>The response without the pairs whose key is hidden, or null when none is.</summary>
    public static byte[]? WithoutHiddenPairs(ReadOnlyMemory<byte> response, Func<string, bool> isHidden)
    {
        var sequence = new ReadOnlySequence<byte>(response);
        var reader = new SequenceReader<byte>(sequence);

        // Created at the first hidden pair only: most answers hold no secret and go on as they came.
        ArrayBufferWriter<byte>? kept = null;
        while (!reader.End)
        {
            var start = reader.Consumed;
            if (!ProtoWire.TryReadTag(ref reader, out var field, out var wireType) || !ProtoWire.TrySkipValue(ref reader, field, wireType))
            {
                throw GatewayException.InvalidArgument("The engine's Config response is not valid protobuf.");
            }

            var whole = response.Slice((int)start, (int)(reader.Consumed - start));
            if (field == 2 && wireType == ProtoWire.WireLengthDelimited)
            {
                var inner = new SequenceReader<byte>(new ReadOnlySequence<byte>(whole));
                ProtoWire.TryReadTag(ref inner, out _, out _);
                ProtoWire.TryReadLength(ref inner, out var length);
                var key = ProtoWire.LengthDelimitedFields(new ReadOnlySequence<byte>(whole.Slice((int)inner.Consumed, (int)length)), 1).Select(String).LastOrDefault();
                if (key is not null && isHidden(key))
                {
                    if (kept is null)
                    {
                        kept = new ArrayBufferWriter<byte>(response.Length);
                        kept.Write(response.Span[..(int)start]);
                    }

                    continue;
                }
            }

            kept?.Write(whole.Span);
        }

        return kept?.WrittenSpan.ToArray();
    }

    internal static string String(ReadOnlySequence<byte> bytes) => ProtoWire.TryReadString(bytes, out var value) ? value : "";
}
