using System.Net;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Forwarding;

/// <summary>
/// The request body sent to the engine: the already-read first message, then every later message of a
/// client stream as it arrives, each checked for the session and rewritten for the user, and flushed at once.
/// </summary>
internal sealed class ForwardedRequestContent(
    GrpcRequestReader reader,
    RewrittenRequest first,
    string sessionId,
    string userName,
    CancellationToken callToken) : HttpContent
{
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _started;

    /// <summary>A client error found in a later message; the call ends with it rather than with the engine's reset.</summary>
    public GatewayException? Failure { get; private set; }

    public long BytesSent { get; private set; }

    public bool Started => Volatile.Read(ref _started) == 1;

    /// <summary>Completes when the body is no longer being written (the client's stream is not touched after it).</summary>
    public Task Completion => _completion.Task;

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) == 1)
        {
            throw new InvalidOperationException("A forwarded request body can be sent once only.");
        }

        // SocketsHttpHandler's HTTP/2 stream passes its request-body token here and cancels it when the token given to
        // SendAsync (the call's) is cancelled, or the stream is reset: linking the call's token again would cost a
        // token source per call for nothing. Only if a handler passed no cancellable token is the call's used.
        var token = cancellationToken.CanBeCanceled ? cancellationToken : callToken;
        try
        {
            await first.WriteToAsync(stream, token);
            BytesSent += first.Length;
            first.Dispose();
            reader.Release();
            await stream.FlushAsync(token);

            var index = 1;
            while (await reader.ReadAsync(token) is { } message)
            {
                var envelope = RequestEnvelope.Parse(message, readCloneNewSessionId: false);
                if (!string.Equals(envelope.SessionId, sessionId, StringComparison.Ordinal))
                {
                    throw GatewayException.InvalidArgument(
                        $"Every message of a request stream must carry the stream's session_id '{sessionId}'; message {index} carries '{envelope.SessionId}'.");
                }

                using (var rewritten = RewrittenRequest.Create(message, envelope, userName))
                {
                    await rewritten.WriteToAsync(stream, token);
                    BytesSent += rewritten.Length;
                }

                reader.Release();
                await stream.FlushAsync(token);
                index++;
            }
        }
        catch (GatewayException e)
        {
            Failure = e;
            throw;
        }
        finally
        {
            reader.Release();
            _completion.TrySetResult();
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }
}
