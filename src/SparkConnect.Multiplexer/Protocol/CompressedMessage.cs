using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using Grpc.Core;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>
/// Inflates one compressed gRPC message (<c>grpc-encoding</c> gzip or deflate) exactly: never more than the limit,
/// and only data that ends with its own checksum trailer, so a truncated or tampered message is refused rather than
/// forwarded short. (The decompressors stop quietly when their input runs out; the trailer check is what tells a
/// whole stream from a cut one.)
/// </summary>
internal static class CompressedMessage
{
    /// <summary>The encodings the gateway reads, as it names them to clients.</summary>
    public const string SupportedEncodings = "identity, gzip, deflate";

    private const int GzipTrailerSize = 8;
    private const int ZlibTrailerSize = 4;

    /// <summary>Whether the gateway can read messages sent with this <c>grpc-encoding</c>.</summary>
    public static bool IsSupported(string? encoding) => encoding is null or "identity" or "gzip" or "deflate";

    /// <summary>
    /// Inflates <paramref name="payload"/> into a buffer from <see cref="MessageBuffers"/> (the caller returns it).
    /// With <paramref name="complete"/> false the payload is only the start of a message: at most
    /// <paramref name="limit"/> bytes are inflated, and neither the size nor the trailer is checked.
    /// </summary>
    /// <exception cref="GatewayException">RESOURCE_EXHAUSTED over the limit, INVALID_ARGUMENT for corrupt or truncated data, UNIMPLEMENTED for an unknown encoding.</exception>
    public static (byte[] Buffer, int Length) Inflate(ReadOnlySequence<byte> payload, string? encoding, int limit, bool complete = true)
    {
        var buffer = MessageBuffers.Rent((int)Math.Clamp(payload.Length * 4, 4096, (long)limit + 1));
        var length = 0;
        try
        {
            using var source = new ReadOnlySequenceStream(payload);
            using Stream inflater = encoding switch
            {
                "gzip" => new GZipStream(source, CompressionMode.Decompress),
                "deflate" => new ZLibStream(source, CompressionMode.Decompress),
                _ => throw Unsupported(encoding),
            };

            // Read one byte past the limit: that byte is what tells "exactly the limit" from "more than the limit".
            var capacity = (long)limit + 1;
            while (true)
            {
                // A rented buffer may be longer than asked for: the room is bounded by the capacity, not its length.
                var room = (int)Math.Min(buffer.Length, capacity) - length;
                if (room == 0)
                {
                    if (length >= capacity)
                    {
                        if (!complete)
                        {
                            break;
                        }

                        throw new GatewayException(StatusCode.ResourceExhausted, $"Received message larger than max (more than {limit} bytes once decompressed); the gateway's limit is SparkConnectGateway:MaxMessageSize.");
                    }

                    var larger = MessageBuffers.Rent((int)Math.Min(buffer.Length * 2L, capacity));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    MessageBuffers.Return(buffer);
                    buffer = larger;
                    continue;
                }

                var read = inflater.Read(buffer, length, room);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            if (complete && !HasValidTrailer(payload, encoding!, buffer.AsSpan(0, length)))
            {
                throw Corrupt("the data is truncated or its checksum does not match");
            }

            return (buffer, Math.Min(length, limit));
        }
        catch (InvalidDataException e)
        {
            MessageBuffers.Return(buffer);
            if (!complete)
            {
                return ([], 0);
            }

            throw Corrupt(e.Message, e);
        }
        catch
        {
            MessageBuffers.Return(buffer);
            throw;
        }
    }

    public static GatewayException Unsupported(string? encoding)
        => new(StatusCode.Unimplemented, $"The request is compressed with grpc-encoding '{encoding ?? "identity"}', which the gateway does not support; supported: {SupportedEncodings}.");

    private static GatewayException Corrupt(string detail, Exception? inner = null)
        => new(StatusCode.InvalidArgument, $"The compressed request message is corrupt: {detail}.", inner);

    /// <summary>
    /// Whether the compressed data ends with the checksum of what it inflated to: gzip's CRC-32 and size (RFC 1952),
    /// zlib's Adler-32 (RFC 1950, gRPC's "deflate").
    /// </summary>
    private static bool HasValidTrailer(ReadOnlySequence<byte> payload, string encoding, ReadOnlySpan<byte> inflated)
    {
        if (encoding == "gzip")
        {
            if (payload.Length < GzipTrailerSize)
            {
                return false;
            }

            Span<byte> trailer = stackalloc byte[GzipTrailerSize];
            payload.Slice(payload.Length - GzipTrailerSize).CopyTo(trailer);
            return BinaryPrimitives.ReadUInt32LittleEndian(trailer) == Crc32(inflated)
                && BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]) == (uint)inflated.Length;
        }

        if (payload.Length < ZlibTrailerSize)
        {
            return false;
        }

        Span<byte> adler = stackalloc byte[ZlibTrailerSize];
        payload.Slice(payload.Length - ZlibTrailerSize).CopyTo(adler);
        return BinaryPrimitives.ReadUInt32BigEndian(adler) == Adler32(inflated);
    }

    private static readonly uint[] CrcTable = BuildCrcTable();

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }

    internal static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc ^ 0xFFFFFFFFu;
    }

    internal static uint Adler32(ReadOnlySpan<byte> data)
    {
        // 5552 is the largest run whose sums cannot overflow 32 bits before the modulo (zlib's NMAX).
        const uint Modulus = 65521;
        uint a = 1, b = 0;
        while (!data.IsEmpty)
        {
            var run = data[..Math.Min(data.Length, 5552)];
            foreach (var x in run)
            {
                a += x;
                b += a;
            }

            a %= Modulus;
            b %= Modulus;
            data = data[run.Length..];
        }

        return (b << 16) | a;
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
