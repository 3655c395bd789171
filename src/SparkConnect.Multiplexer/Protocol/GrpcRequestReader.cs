using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Pipelines;
using Grpc.Core;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>
/// Reads gRPC length-prefixed request messages from the client's body. A message stays in the client's buffers
/// (not copied) until <see cref="Release"/>; a compressed message is inflated into a pooled buffer.
/// </summary>
internal sealed class GrpcRequestReader(PipeReader body, int maxMessageSize, string? encoding)
{
    private const int HeaderSize = 5;

    private SequencePosition? _heldEnd;
    private byte[]? _inflated;

    /// <summary>The next message's payload, or <see langword="null"/> when the client has finished sending.</summary>
    /// <exception cref="GatewayException">The frame is invalid, too large, or uses an unsupported compression.</exception>
    public async ValueTask<ReadOnlySequence<byte>?> ReadAsync(CancellationToken cancellationToken)
    {
        Release();

        var result = await body.ReadAtLeastAsync(HeaderSize, cancellationToken);
        var buffer = result.Buffer;
        if (buffer.IsEmpty && result.IsCompleted)
        {
            body.AdvanceTo(buffer.End);
            return null;
        }

        if (buffer.Length < HeaderSize)
        {
            body.AdvanceTo(buffer.End);
            throw GatewayException.InvalidArgument("The request stream ended inside a gRPC message header.");
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        var compressed = header[0];
        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (compressed > 1)
        {
            body.AdvanceTo(buffer.End);
            throw GatewayException.InvalidArgument($"The gRPC message header has compression flag {compressed}; only 0 and 1 are valid.");
        }

        if (length > (uint)maxMessageSize)
        {
            body.AdvanceTo(buffer.End);
            throw new GatewayException(StatusCode.ResourceExhausted, $"Received message larger than max ({length} vs. {maxMessageSize}); the gateway's limit is SparkConnectGateway:MaxMessageSize.");
        }

        var frameLength = HeaderSize + (long)length;
        if (buffer.Length < frameLength)
        {
            body.AdvanceTo(buffer.Start, buffer.End);
            result = await body.ReadAtLeastAsync((int)frameLength, cancellationToken);
            buffer = result.Buffer;
            if (buffer.Length < frameLength)
            {
                body.AdvanceTo(buffer.End);
                throw GatewayException.InvalidArgument($"The request stream ended inside a gRPC message ({buffer.Length - HeaderSize} of {length} bytes).");
            }
        }

        var frameEnd = buffer.GetPosition(frameLength);
        var payload = buffer.Slice(HeaderSize, length);
        if (compressed == 0)
        {
            _heldEnd = frameEnd;
            return payload;
        }

        try
        {
            return Inflate(payload);
        }
        finally
        {
            body.AdvanceTo(frameEnd);
        }
    }

    /// <summary>Lets go of the current message (its bytes are no longer valid afterwards).</summary>
    public void Release()
    {
        if (_heldEnd is { } end)
        {
            _heldEnd = null;
            body.AdvanceTo(end);
        }

        if (_inflated is { } inflated)
        {
            _inflated = null;
            ArrayPool<byte>.Shared.Return(inflated);
        }
    }

    private ReadOnlySequence<byte> Inflate(ReadOnlySequence<byte> payload)
    {
        using var source = new ReadOnlySequenceStream(payload);
        using Stream inflater = encoding switch
        {
            "gzip" => new GZipStream(source, CompressionMode.Decompress),
            "deflate" => new ZLibStream(source, CompressionMode.Decompress),
            _ => throw new GatewayException(StatusCode.Unimplemented, $"The request is compressed with grpc-encoding '{encoding ?? "identity"}', which the gateway does not support; use gzip, deflate or no compression."),
        };

        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(payload.Length * 4, 4096, maxMessageSize));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length >= maxMessageSize)
                    {
                        throw new GatewayException(StatusCode.ResourceExhausted, $"Received message larger than max (more than {maxMessageSize} bytes once decompressed).");
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, maxMessageSize));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = inflater.Read(buffer, length, Math.Min(buffer.Length, maxMessageSize) - length);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }
        }
        catch (InvalidDataException e)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw new GatewayException(StatusCode.InvalidArgument, $"The compressed request message is corrupt: {e.Message}", e);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        _inflated = buffer;
        return new ReadOnlySequence<byte>(buffer, 0, length);
    }

    /// <summary>A read-only stream over a sequence, for the decompressors.</summary>
    private sealed class ReadOnlySequenceStream(ReadOnlySequence<byte> sequence) : Stream
    {
        private ReadOnlySequence<byte> _remaining = sequence;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var count = (int)Math.Min(buffer.Length, _remaining.Length);
            _remaining.Slice(0, count).CopyTo(buffer);
            _remaining = _remaining.Slice(count);
            return count;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
