using System.Buffers;
using System.Buffers.Binary;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>
/// A request message as the engine receives it: the client's bytes with every <c>user_context</c> replaced by one
/// whose <c>user_id</c> and <c>user_name</c> are the authenticated user (other user_context fields kept), plus, for
/// CloneSession, a <c>new_session_id</c> the gateway chose. Written as a gRPC frame (uncompressed) straight from the
/// client's buffers: the message is never copied whole.
/// </summary>
internal sealed class RewrittenRequest : IDisposable
{
    private const int FrameHeaderSize = 5;
    private const byte UserContextTag = (2 << 3) | ProtoWire.WireLengthDelimited;
    private const byte UserIdTag = (1 << 3) | ProtoWire.WireLengthDelimited;
    private const byte UserNameTag = (2 << 3) | ProtoWire.WireLengthDelimited;
    private const byte CloneNewSessionIdTag = (4 << 3) | ProtoWire.WireLengthDelimited;

    private readonly List<ReadOnlySequence<byte>> _pieces;
    private byte[]? _rented;

    private RewrittenRequest(List<ReadOnlySequence<byte>> pieces, byte[] rented, long length)
    {
        _pieces = pieces;
        _rented = rented;
        Length = length;
    }

    /// <summary>The frame's size in bytes, header included.</summary>
    public long Length { get; }

    public static RewrittenRequest Create(ReadOnlySequence<byte> message, RequestEnvelope envelope, string userName, string? appendedCloneSessionId = null)
    {
        var userBytes = System.Text.Encoding.UTF8.GetByteCount(userName);
        long kept = 0;
        foreach (var range in envelope.KeptUserContextFields)
        {
            kept += range.Length;
        }

        var userContextPayload = checked((int)((2L * ProtoWire.LengthDelimitedSize(userBytes)) + kept));
        var userContextField = 1 + ProtoWire.VarintSize((ulong)userContextPayload) + userContextPayload;
        var appendix = appendedCloneSessionId is null ? 0 : ProtoWire.LengthDelimitedSize(System.Text.Encoding.UTF8.GetByteCount(appendedCloneSessionId));

        var rented = ArrayPool<byte>.Shared.Rent(FrameHeaderSize + userContextField + appendix);
        var span = rented.AsSpan();

        // The replacement user_context, after the frame header in the rented buffer.
        var at = FrameHeaderSize;
        span[at++] = UserContextTag;
        at += ProtoWire.WriteVarint(span[at..], (ulong)userContextPayload);
        at += WriteString(span[at..], UserIdTag, userName);
        at += WriteString(span[at..], UserNameTag, userName);
        foreach (var range in envelope.KeptUserContextFields)
        {
            message.Slice(range.Start, range.Length).CopyTo(span[at..]);
            at += (int)range.Length;
        }

        var appendixStart = at;
        if (appendedCloneSessionId is not null)
        {
            at += WriteString(span[at..], CloneNewSessionIdTag, appendedCloneSessionId);
        }

        var userContext = new ReadOnlySequence<byte>(rented, FrameHeaderSize, userContextField);
        var pieces = new List<ReadOnlySequence<byte>>(envelope.UserContextFields.Count + 4)
        {
            new(rented, 0, FrameHeaderSize),
        };

        if (envelope.UserContextFields.Count == 0)
        {
            pieces.Add(message);
            pieces.Add(userContext);
        }
        else
        {
            // The replacement takes the place of the first user_context; later ones are dropped (their kept fields
            // moved into it), which is what protobuf's merge of repeated embedded messages means.
            long position = 0;
            for (var i = 0; i < envelope.UserContextFields.Count; i++)
            {
                var range = envelope.UserContextFields[i];
                pieces.Add(message.Slice(position, range.Start - position));
                if (i == 0)
                {
                    pieces.Add(userContext);
                }

                position = range.End;
            }

            pieces.Add(message.Slice(position));
        }

        if (appendix > 0)
        {
            pieces.Add(new ReadOnlySequence<byte>(rented, appendixStart, appendix));
        }

        long total = 0;
        foreach (var piece in pieces)
        {
            total += piece.Length;
        }

        var payloadLength = total - FrameHeaderSize;
        if (payloadLength > uint.MaxValue)
        {
            ArrayPool<byte>.Shared.Return(rented);
            throw new GatewayException(Grpc.Core.StatusCode.ResourceExhausted, "The request message is too large to forward.");
        }

        span[0] = 0; // not compressed: the gateway always forwards plain messages
        BinaryPrimitives.WriteUInt32BigEndian(span[1..FrameHeaderSize], (uint)payloadLength);
        return new RewrittenRequest(pieces, rented, total);
    }

    public async ValueTask WriteToAsync(Stream destination, CancellationToken cancellationToken)
    {
        foreach (var piece in _pieces)
        {
            foreach (var memory in piece)
            {
                if (!memory.IsEmpty)
                {
                    await destination.WriteAsync(memory, cancellationToken);
                }
            }
        }
    }

    /// <summary>The frame as one array; for tests and diagnostics.</summary>
    public byte[] ToArray()
    {
        var result = new byte[Length];
        var at = 0;
        foreach (var piece in _pieces)
        {
            piece.CopyTo(result.AsSpan(at));
            at += (int)piece.Length;
        }

        return result;
    }

    public void Dispose()
    {
        var rented = Interlocked.Exchange(ref _rented, null);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static int WriteString(Span<byte> destination, byte tag, string value)
    {
        destination[0] = tag;
        var length = System.Text.Encoding.UTF8.GetByteCount(value);
        var at = 1 + ProtoWire.WriteVarint(destination[1..], (ulong)length);
        at += System.Text.Encoding.UTF8.GetBytes(value, destination[at..]);
        return at;
    }
}
