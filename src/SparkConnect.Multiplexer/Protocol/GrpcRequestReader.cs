using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Grpc.Core;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>
/// Reads gRPC length-prefixed request messages from the client's body. A message stays in the client's buffers
/// (not copied) until <see cref="Release"/>; a compressed message is inflated into a buffer of its own.
/// </summary>
internal sealed class GrpcRequestReader
{
    private const int HeaderSize = 5;

    private readonly PipeReader _body;
    private readonly int _maxMessageSize;
    private readonly string? _encoding;
    private SequencePosition? _heldEnd;
    private SequencePosition _heldStart;
    private SequencePosition _heldExamined;
    private long _heldFrameLength;
    private long _heldBufferLength;
    private bool _heldCompleted;
    private InflatedMessage? _inflated;

    /// <exception cref="GatewayException">UNIMPLEMENTED when the call's <c>grpc-encoding</c> is one the gateway cannot read.</exception>
    public GrpcRequestReader(PipeReader body, int maxMessageSize, string? encoding)
    {
        if (!CompressedMessage.IsSupported(encoding))
        {
            throw CompressedMessage.Unsupported(encoding);
        }

        _body = body;
        _maxMessageSize = maxMessageSize;
        _encoding = encoding == "identity" ? null : encoding;
    }

    /// <summary>The next message's payload, or <see langword="null"/> when the client has finished sending.</summary>
    /// <exception cref="GatewayException">The frame is invalid, too large, truncated, or uses an unsupported compression.</exception>
    public async ValueTask<ReadOnlySequence<byte>?> ReadAsync(CancellationToken cancellationToken)
    {
        Release();

        var result = await _body.ReadAtLeastAsync(HeaderSize, cancellationToken);
        var buffer = result.Buffer;
        if (buffer.IsEmpty && result.IsCompleted)
        {
            _body.AdvanceTo(buffer.End);
            return null;
        }

        bool compressed;
        uint length;
        try
        {
            (compressed, length) = ReadHeader(buffer, _encoding, _maxMessageSize);
        }
        catch
        {
            _body.AdvanceTo(buffer.End);
            throw;
        }

        var frameLength = HeaderSize + (long)length;
        if (buffer.Length < frameLength)
        {
            _body.AdvanceTo(buffer.Start, buffer.End);
            result = await _body.ReadAtLeastAsync((int)frameLength, cancellationToken);
            buffer = result.Buffer;
            if (buffer.Length < frameLength)
            {
                _body.AdvanceTo(buffer.End);
                throw GatewayException.InvalidArgument($"The request stream ended inside a gRPC message ({buffer.Length - HeaderSize} of {length} bytes).");
            }
        }

        var frameEnd = buffer.GetPosition(frameLength);
        var payload = buffer.Slice(HeaderSize, length);
        if (!compressed)
        {
            // The read stays open until Release: the payload is the client's own buffer, not a copy.
            _heldEnd = frameEnd;
            _heldStart = buffer.Start;
            _heldExamined = buffer.End;
            _heldFrameLength = frameLength;
            _heldBufferLength = buffer.Length;
            _heldCompleted = result.IsCompleted;
            return payload;
        }

        try
        {
            _inflated = CompressedMessage.Inflate(payload, _encoding, _maxMessageSize);
            return _inflated.Sequence;
        }
        finally
        {
            _body.AdvanceTo(frameEnd);
        }
    }

    /// <summary>
    /// The start of the first message — at most <paramref name="limit"/> bytes of it (inflated if compressed) —
    /// without consuming anything, so authentication can read a claimed user id before the gateway commits memory
    /// to a whole message. <paramref name="read"/> sees the bytes in place (inflated if compressed), while they are valid.
    /// </summary>
    /// <returns>What <paramref name="read"/> made of the prefix (an empty one when the client sent no message).</returns>
    public async ValueTask<T> PeekFirstMessagePrefixAsync<T>(int limit, Func<ReadOnlySequence<byte>, T> read, CancellationToken cancellationToken)
    {
        var result = await _body.ReadAtLeastAsync(HeaderSize, cancellationToken);
        var buffer = result.Buffer;
        if (buffer.Length < HeaderSize)
        {
            _body.AdvanceTo(buffer.Start);
            return read(ReadOnlySequence<byte>.Empty);
        }

        bool compressed;
        uint length;
        try
        {
            (compressed, length) = ReadHeader(buffer, _encoding, _maxMessageSize);
        }
        catch
        {
            _body.AdvanceTo(buffer.Start);
            throw;
        }

        var wanted = HeaderSize + Math.Min(length, (long)limit);
        if (buffer.Length < wanted)
        {
            _body.AdvanceTo(buffer.Start, buffer.End);
            result = await _body.ReadAtLeastAsync((int)wanted, cancellationToken);
            buffer = result.Buffer;
        }

        try
        {
            var available = buffer.Slice(HeaderSize, Math.Min(buffer.Length - HeaderSize, Math.Min(length, (long)limit)));
            if (!compressed)
            {
                return read(available);
            }

            using var inflated = CompressedMessage.Inflate(available, _encoding, limit, complete: false);
            return read(inflated.Sequence);
        }
        finally
        {
            // Nothing consumed: the message is read again, whole, once the call is authenticated.
            _body.AdvanceTo(buffer.Start);
        }
    }

    /// <summary>
    /// For a method whose request is one message: waits for the end of the client's stream and refuses a second
    /// message, so an engine never receives what the method cannot carry. The current message stays valid.
    /// </summary>
    /// <exception cref="GatewayException">INVALID_ARGUMENT when more bytes follow the first message.</exception>
    public async ValueTask EnsureNoMoreMessagesAsync(string method, CancellationToken cancellationToken)
    {
        if (_heldEnd is null)
        {
            // The message was inflated into a buffer of its own: the frame is consumed and no read is open.
            while (true)
            {
                var result = await _body.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                _body.AdvanceTo(buffer.Start, buffer.End);
                if (!buffer.IsEmpty)
                {
                    throw SecondMessage(method);
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }

        if (_heldBufferLength > _heldFrameLength)
        {
            throw SecondMessage(method);
        }

        if (_heldCompleted)
        {
            return;
        }

        // Keep the message (consume nothing) and wait for more: either the end of the stream or a second message.
        // While no read is open, Release must not complete one.
        _heldEnd = null;
        _body.AdvanceTo(_heldStart, _heldExamined);
        while (true)
        {
            var result = await _body.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (buffer.Length > _heldFrameLength || result.IsCompleted || result.IsCanceled)
            {
                _heldEnd = buffer.GetPosition(Math.Min(_heldFrameLength, buffer.Length));
                if (buffer.Length > _heldFrameLength)
                {
                    throw SecondMessage(method);
                }

                return;
            }

            _body.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static GatewayException SecondMessage(string method)
        => GatewayException.InvalidArgument($"{method} takes exactly one request message, and this call carried more; send one message and close the request stream.");

    /// <summary>Lets go of the current message (its bytes are no longer valid afterwards).</summary>
    public void Release()
    {
        if (_heldEnd is { } end)
        {
            _heldEnd = null;
            _body.AdvanceTo(end);
        }

        if (_inflated is { } inflated)
        {
            _inflated = null;
            inflated.Dispose();
        }
    }

    private static (bool Compressed, uint Length) ReadHeader(ReadOnlySequence<byte> buffer, string? encoding, int maxMessageSize)
    {
        if (buffer.Length < HeaderSize)
        {
            throw GatewayException.InvalidArgument("The request stream ended inside a gRPC message header.");
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        var flag = header[0];
        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (flag > 1)
        {
            throw GatewayException.InvalidArgument($"The gRPC message header has compression flag {flag}; only 0 and 1 are valid.");
        }

        if (flag == 1 && encoding is null)
        {
            throw GatewayException.InvalidArgument("The gRPC message is marked compressed, but the call has no grpc-encoding header; send grpc-encoding: gzip or deflate with compressed messages.");
        }

        if (length > (uint)maxMessageSize)
        {
            throw new GatewayException(StatusCode.ResourceExhausted, $"Received message larger than max ({length} vs. {maxMessageSize}); the gateway's limit is SparkConnectGateway:MaxMessageSize.");
        }

        return (flag == 1, length);
    }
}
