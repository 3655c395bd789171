using System.Buffers;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>
/// An inflated message held as a chain of pooled fixed-size chunks: memory grows by one chunk at a time (no doubling,
/// no copies), and every chunk goes back to the pool when the call is done, so a large compressed message costs its
/// own size while it is forwarded and nothing afterwards.
/// </summary>
internal sealed class InflatedMessage : IDisposable
{
    /// <summary>The chunk size: small enough for the shared pool to keep only a few, large enough to keep chains short.</summary>
    public const int ChunkSize = 64 * 1024;

    private readonly List<byte[]> _chunks = [];
    private int _lastLength;

    public static InflatedMessage Empty() => new();

    /// <summary>Bytes held.</summary>
    public long Length => _chunks.Count == 0 ? 0 : ((long)(_chunks.Count - 1) * ChunkSize) + _lastLength;

    /// <summary>The message; valid until <see cref="Dispose"/>.</summary>
    public ReadOnlySequence<byte> Sequence
    {
        get
        {
            if (_chunks.Count == 0)
            {
                return ReadOnlySequence<byte>.Empty;
            }

            if (_chunks.Count == 1)
            {
                return new ReadOnlySequence<byte>(_chunks[0], 0, _lastLength);
            }

            var first = new Segment(_chunks[0].AsMemory(0, ChunkSize), 0);
            var last = first;
            for (var i = 1; i < _chunks.Count; i++)
            {
                last = last.Append(_chunks[i].AsMemory(0, i == _chunks.Count - 1 ? _lastLength : ChunkSize));
            }

            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }

    /// <summary>Room to write into: the rest of the last chunk, or a new one.</summary>
    public Memory<byte> GetMemory()
    {
        if (_chunks.Count == 0 || _lastLength == ChunkSize)
        {
            _chunks.Add(ArrayPool<byte>.Shared.Rent(ChunkSize));
            _lastLength = 0;
        }

        return _chunks[^1].AsMemory(_lastLength, ChunkSize - _lastLength);
    }

    public void Advance(int count) => _lastLength += count;

    /// <summary>Drops bytes from the end (the one read past a limit).</summary>
    public void Truncate(long length)
    {
        while (Length > length)
        {
            var excess = Length - length;
            if (excess >= _lastLength && _chunks.Count > 0)
            {
                ArrayPool<byte>.Shared.Return(_chunks[^1]);
                _chunks.RemoveAt(_chunks.Count - 1);
                _lastLength = _chunks.Count == 0 ? 0 : ChunkSize;
            }
            else
            {
                _lastLength -= (int)excess;
            }
        }
    }

    public void Dispose()
    {
        foreach (var chunk in _chunks)
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        _chunks.Clear();
        _lastLength = 0;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
