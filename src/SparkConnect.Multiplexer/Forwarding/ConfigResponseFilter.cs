using System.Buffers.Binary;
using System.IO.Pipelines;
using Grpc.Core;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Admission;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Forwarding;

/// <summary>
/// The response of a method whose answer is read rather than relayed (<see cref="SparkConnectMethod.InspectsResponse"/>:
/// Config): the pairs whose key is secret (<see cref="AuthorizationPolicy.IsHidden"/>) are dropped before the client
/// sees them. Config responses are small and unary: read whole, filtered, and sent on.
/// </summary>
internal sealed class ConfigResponseFilter(AuthorizationPolicy authorization, IOptionsMonitor<SparkConnectGatewayOptions> options)
{
    private const int InitialBuffer = 4 * 1024;

    private readonly Func<string, bool> _isHidden = authorization.IsHidden;

    /// <summary>
    /// Reads the engine's response, removes hidden pairs and writes the frames to the client. The engine was not
    /// offered compression, so a compressed message means something is wrong: refuse rather than pass it.
    /// </summary>
    /// <returns>The bytes written to the client.</returns>
    /// <exception cref="GatewayException">RESOURCE_EXHAUSTED over the message size; INTERNAL for a compressed or truncated response.</exception>
    public async Task<long> RelayAsync(Stream source, PipeWriter destination, CancellationToken cancellationToken)
    {
        var limit = options.CurrentValue.MaxMessageSize + 5L;

        // Pooled: a Config answer is a few hundred bytes, and every Config call comes through here.
        var buffer = MessageBuffers.Rent(InitialBuffer);
        try
        {
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    var larger = MessageBuffers.Rent((int)Math.Min(buffer.Length * 2L, limit + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    MessageBuffers.Return(buffer);
                    buffer = larger;
                }

                var read = await source.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > limit)
                {
                    throw new GatewayException(StatusCode.ResourceExhausted, "The engine's Config response is larger than SparkConnectGateway:MaxMessageSize.");
                }
            }

            return await WriteFramesAsync(buffer.AsMemory(0, length), destination, cancellationToken);
        }
        finally
        {
            MessageBuffers.Return(buffer);
        }
    }

    private async Task<long> WriteFramesAsync(ReadOnlyMemory<byte> frames, PipeWriter destination, CancellationToken cancellationToken)
    {
        long written = 0;
        while (frames.Length >= 5)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(frames.Span[1..5]);
            if (frames.Span[0] != 0 || frames.Length < 5 + length)
            {
                throw new GatewayException(StatusCode.Internal, "The engine sent a compressed or truncated Config response, which the gateway cannot check for secrets.");
            }

            var message = frames.Slice(5, length);
            ReadOnlyMemory<byte> kept = ConfigMessages.WithoutHiddenPairs(message, _isHidden) is { } filtered ? filtered : message;
            var header = destination.GetSpan(5);
            header[0] = 0;
            BinaryPrimitives.WriteUInt32BigEndian(header[1..5], (uint)kept.Length);
            destination.Advance(5);
            await destination.WriteAsync(kept, cancellationToken);
            written += 5 + kept.Length;
            frames = frames[(5 + length)..];
        }

        return written;
    }
}
