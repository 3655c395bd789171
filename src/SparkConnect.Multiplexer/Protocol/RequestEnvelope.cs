using System.Buffers;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>
/// The fields every Spark Connect request shares — <c>session_id = 1</c> and <c>user_context = 2</c> — read from the
/// raw message without deserializing the rest, so unknown and future fields pass through untouched. The top level
/// is walked completely, so a message that is not valid protobuf is refused here rather than by the engine.
/// </summary>
internal sealed class RequestEnvelope
{
    private const int SessionIdField = 1;
    private const int UserContextField = 2;
    private const int CloneNewSessionIdField = 4;
    private const int UserIdField = 1;
    private const int UserNameField = 2;

    private readonly List<ByteRange> _userContextFields = [];
    private readonly List<ByteRange> _keptUserContextFields = [];

    private RequestEnvelope()
    {
    }

    /// <summary>The session id; protobuf's last-one-wins rule applies, as at the engine.</summary>
    public string? SessionId { get; private set; }

    /// <summary>The client's <c>user_context.user_id</c> (untrusted).</summary>
    public string? ClaimedUserId { get; private set; }

    /// <summary><c>CloneSessionRequest.new_session_id</c>, when parsed for CloneSession.</summary>
    public string? NewSessionId { get; private set; }

    /// <summary>Every <c>user_context</c> field of the message (whole field: tag, length and payload).</summary>
    public IReadOnlyList<ByteRange> UserContextFields => _userContextFields;

    /// <summary>Sub-fields of the user contexts other than user_id and user_name (extensions, unknown fields): kept as they are.</summary>
    public IReadOnlyList<ByteRange> KeptUserContextFields => _keptUserContextFields;

    /// <exception cref="GatewayException">INVALID_ARGUMENT when the message is not valid protobuf.</exception>
    public static RequestEnvelope Parse(ReadOnlySequence<byte> message, bool readCloneNewSessionId)
    {
        var envelope = new RequestEnvelope();
        var reader = new SequenceReader<byte>(message);
        while (!reader.End)
        {
            var fieldStart = reader.Consumed;
            if (!ProtoWire.TryReadTag(ref reader, out var field, out var wireType))
            {
                throw Malformed($"a field tag at byte {fieldStart} is invalid");
            }

            var isEnvelopeString = field == SessionIdField || field == UserContextField
                || (readCloneNewSessionId && field == CloneNewSessionIdField);
            if (!isEnvelopeString)
            {
                if (!ProtoWire.TrySkipValue(ref reader, field, wireType))
                {
                    throw Malformed($"field {field} at byte {fieldStart} is truncated or has an invalid wire type");
                }

                continue;
            }

            if (wireType != ProtoWire.WireLengthDelimited || !ProtoWire.TryReadLength(ref reader, out var length))
            {
                throw Malformed($"field {field} at byte {fieldStart} is not a valid length-delimited field");
            }

            var payloadStart = reader.Consumed;
            var payload = message.Slice(payloadStart, length);
            reader.Advance(length);
            switch (field)
            {
                case SessionIdField:
                    envelope.SessionId = ReadString(payload, "session_id");
                    break;
                case UserContextField:
                    envelope._userContextFields.Add(new ByteRange(fieldStart, reader.Consumed));
                    envelope.ParseUserContext(payload, payloadStart);
                    break;
                default:
                    envelope.NewSessionId = ReadString(payload, "new_session_id");
                    break;
            }
        }

        return envelope;
    }

    /// <summary>
    /// The claimed <c>user_context.user_id</c> from the start of a message, which may be cut anywhere: fields are read
    /// while they are whole, and reading stops at the first that is not (the whole message is parsed strictly later).
    /// </summary>
    public static string? ReadClaimedUserId(ReadOnlySequence<byte> prefix)
    {
        string? claimed = null;
        var reader = new SequenceReader<byte>(prefix);
        while (!reader.End)
        {
            if (!ProtoWire.TryReadTag(ref reader, out var field, out var wireType))
            {
                break;
            }

            if (field != UserContextField || wireType != ProtoWire.WireLengthDelimited)
            {
                if (!ProtoWire.TrySkipValue(ref reader, field, wireType))
                {
                    break;
                }

                continue;
            }

            if (!ProtoWire.TryReadLength(ref reader, out var length) || reader.Remaining < length)
            {
                break;
            }

            var payload = prefix.Slice(reader.Consumed, length);
            reader.Advance(length);
            try
            {
                var userContext = new RequestEnvelope();
                userContext.ParseUserContext(payload, 0);
                claimed = userContext.ClaimedUserId ?? claimed;
            }
            catch (GatewayException)
            {
                break;
            }
        }

        return claimed;
    }

    private void ParseUserContext(ReadOnlySequence<byte> payload, long payloadOffset)
    {
        var reader = new SequenceReader<byte>(payload);
        while (!reader.End)
        {
            var fieldStart = reader.Consumed;
            if (!ProtoWire.TryReadTag(ref reader, out var field, out var wireType))
            {
                throw Malformed("user_context has an invalid field tag");
            }

            if ((field == UserIdField || field == UserNameField) && wireType == ProtoWire.WireLengthDelimited)
            {
                if (!ProtoWire.TryReadLength(ref reader, out var length))
                {
                    throw Malformed("user_context has a truncated string");
                }

                var value = payload.Slice(reader.Consumed, length);
                reader.Advance(length);
                if (field == UserIdField)
                {
                    ClaimedUserId = ReadString(value, "user_context.user_id");
                }

                continue;
            }

            if (!ProtoWire.TrySkipValue(ref reader, field, wireType))
            {
                throw Malformed($"user_context field {field} is truncated or has an invalid wire type");
            }

            _keptUserContextFields.Add(new ByteRange(payloadOffset + fieldStart, payloadOffset + reader.Consumed));
        }
    }

    private static string ReadString(ReadOnlySequence<byte> bytes, string name)
        => ProtoWire.TryReadString(bytes, out var value) ? value : throw Malformed($"{name} is not valid UTF-8");

    private static GatewayException Malformed(string detail)
        => GatewayException.InvalidArgument($"The request message is not a valid Spark Connect request: {detail}.");
}

/// <summary>A half-open range of byte offsets within a message.</summary>
internal readonly record struct ByteRange(long Start, long End)
{
    public long Length => End - Start;
}
