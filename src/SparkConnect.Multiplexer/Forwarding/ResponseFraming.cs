using System.Buffers.Binary;

namespace SparkConnect.Multiplexer.Forwarding;

/// <summary>
/// Follows the gRPC length-prefixed framing of a relayed response without holding any of it, so that when the
/// engine fails the gateway knows whether the client already holds part of a message.
/// </summary>
internal sealed class ResponseFraming
{
    private const int HeaderSize = 5;

    private readonly byte[] _header = new byte[HeaderSize];
    private int _headerBytes;
    private long _payloadRemaining;

    /// <summary>Whether everything relayed so far ends exactly at the end of a message.</summary>
    public bool AtMessageBoundary => _headerBytes == 0 && _payloadRemaining == 0;

    /// <summary>Takes note of bytes as they are relayed.</summary>
    public void Observe(ReadOnlySpan<byte> chunk)
    {
        while (!chunk.IsEmpty)
        {
            if (_payloadRemaining > 0)
            {
                var skipped = (int)Math.Min(_payloadRemaining, chunk.Length);
                _payloadRemaining -= skipped;
                chunk = chunk[skipped..];
                continue;
            }

            var taken = Math.Min(HeaderSize - _headerBytes, chunk.Length);
            chunk[..taken].CopyTo(_header.AsSpan(_headerBytes));
            _headerBytes += taken;
            chunk = chunk[taken..];
            if (_headerBytes == HeaderSize)
            {
                _headerBytes = 0;
                _payloadRemaining = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(1));
            }
        }
    }
}
