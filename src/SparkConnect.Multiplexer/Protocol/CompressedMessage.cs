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
    /// Inflates <paramref name="payload"/> into pooled chunks (the caller disposes the result). With
    /// <paramref name="complete"/> false the payload is only the start of a message: at most <paramref name="limit"/>
    /// bytes are inflated, and neither the size nor the trailer is checked.
    /// </summary>
    /// <exception cref="GatewayException">RESOURCE_EXHAUSTED over the limit, INVALID_ARGUMENT for corrupt or truncated data, UNIMPLEMENTED for an unknown encoding.</exception>
    public static InflatedMessage Inflate(ReadOnlySequence<byte> payload, string? encoding, int limit, bool complete = true)
    {
        var message = new InflatedMessage();
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
            var checksum = new Checksum(gzip: encoding == "gzip");
            while (true)
            {
                var room = capacity - message.Length;
                if (room == 0)
                {
                    if (!complete)
                    {
                        break;
                    }

                    throw new GatewayException(StatusCode.ResourceExhausted, $"Received message larger than max (more than {limit} bytes once decompressed); the gateway's limit is SparkConnectGateway:MaxMessageSize.");
                }

                var memory = message.GetMemory();
                if (memory.Length > room)
                {
                    memory = memory[..(int)room];
                }

                var read = inflater.Read(memory.Span);
                if (read == 0)
                {
                    break;
                }

                checksum.Update(memory.Span[..read]);
                message.Advance(read);
            }

            if (complete && !checksum.MatchesTrailer(payload, message.Length))
            {
                throw Corrupt("the data is truncated or its checksum does not match");
            }

            message.Truncate(limit);
            return message;
        }
        catch (InvalidDataException e)
        {
            message.Dispose();
            if (!complete)
            {
                return InflatedMessage.Empty();
            }

            throw Corrupt(e.Message, e);
        }
        catch
        {
            message.Dispose();
            throw;
        }
    }

    public static GatewayException Unsupported(string? encoding)
        => new(StatusCode.Unimplemented, $"The request is compressed with grpc-encoding '{encoding ?? "identity"}', which the gateway does not support; supported: {SupportedEncodings}.");

    private static GatewayException Corrupt(string detail, Exception? inner = null)
        => new(StatusCode.InvalidArgument, $"The compressed request message is corrupt: {detail}.", inner);

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

    /// <summary>
    /// The checksum of what the data inflated to, computed as it is inflated, against the trailer the data ends with:
    /// gzip's CRC-32 and size (RFC 1952), zlib's Adler-32 (RFC 1950, gRPC's "deflate").
    /// </summary>
    private struct Checksum(bool gzip)
    {
        // 5552 is the largest run whose Adler sums cannot overflow 32 bits before the modulo (zlib's NMAX).
        private const int AdlerRun = 5552;
        private const uint AdlerModulus = 65521;

        private uint _crc = 0xFFFFFFFFu;
        private uint _a = 1;
        private uint _b;

        public void Update(ReadOnlySpan<byte> data)
        {
            if (gzip)
            {
                var crc = _crc;
                foreach (var x in data)
                {
                    crc = CrcTable[(crc ^ x) & 0xFF] ^ (crc >> 8);
                }

                _crc = crc;
                return;
            }

            while (!data.IsEmpty)
            {
                var run = data[..Math.Min(data.Length, AdlerRun)];
                foreach (var x in run)
                {
                    _a += x;
                    _b += _a;
                }

                _a %= AdlerModulus;
                _b %= AdlerModulus;
                data = data[run.Length..];
            }
        }

        public readonly bool MatchesTrailer(ReadOnlySequence<byte> payload, long inflatedLength)
        {
            Span<byte> trailer = stackalloc byte[GzipTrailerSize];
            if (gzip)
            {
                if (payload.Length < GzipTrailerSize)
                {
                    return false;
                }

                payload.Slice(payload.Length - GzipTrailerSize).CopyTo(trailer);
                return BinaryPrimitives.ReadUInt32LittleEndian(trailer) == (_crc ^ 0xFFFFFFFFu)
                    && BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]) == (uint)inflatedLength;
            }

            if (payload.Length < ZlibTrailerSize)
            {
                return false;
            }

            payload.Slice(payload.Length - ZlibTrailerSize).CopyTo(trailer);
            return BinaryPrimitives.ReadUInt32BigEndian(trailer) == ((_b << 16) | _a);
        }
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
