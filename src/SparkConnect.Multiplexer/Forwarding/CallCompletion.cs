using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using SparkConnect.Multiplexer.Internal;
using SparkConnect.Multiplexer.Management;
using SparkConnect.Multiplexer.Protocol;
using SparkConnect.Multiplexer.Sessions;

namespace SparkConnect.Multiplexer.Forwarding;

/// <summary>
/// The end of a call, the pipeline's last step: the gateway's own status when it answers instead of the engine
/// (trailers, or a stream reset when the client holds part of a message), the record of a refusal (log, audit,
/// metric, the admin API's recent refusals), and the session's bookkeeping once its call is over.
/// </summary>
internal sealed class CallCompletion(
    GatewayAudit audit,
    GatewayMetrics metrics,
    RecentRefusals recentRefusals,
    ActiveCalls activeCalls,
    ISessionStore store,
    TimeProvider time,
    ILogger<CallCompletion> logger)
{
    private const int RefusedStreamErrorCode = 0x7;
    private const int CancelErrorCode = 0x8;

    /// <summary>How long, at the end of the drain, a stream's UNAVAILABLE trailers may wait behind data the client has not read.</summary>
    internal static readonly TimeSpan DrainedStreamGrace = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Ends a call the gateway refused or failed with a status of its own, and records it: logged always; audited
    /// when an operator answers for it (a denial or a limit, no engine, an engine that cannot serve); counted and
    /// kept for the admin API when it is a refusal.
    /// </summary>
    public void Refused(HttpContext context, string method, string? user, ResponseFraming? framing, GatewayException e)
    {
        GatewayLog.CallRefused(logger, method, user ?? "-", context.Connection.RemoteIpAddress, e.StatusCode, ClientText.Escape(e.Message));
        var client = SessionRouter.AddressOf(context.Connection.RemoteIpAddress);
        var isRefusal = e.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied or StatusCode.ResourceExhausted;
        if (isRefusal || e.StatusCode is StatusCode.FailedPrecondition or StatusCode.Unavailable or StatusCode.NotFound)
        {
            audit.CallRefused(method, user ?? "-", client, e.StatusCode, ClientText.Escape(e.Message));
        }

        if (isRefusal)
        {
            var refusal = RefusalReasons.Of(e);
            if (refusal is not null)
            {
                metrics.Refused(refusal, method);
            }

            recentRefusals.Add(method, user, client, e.StatusCode, refusal ?? "authentication", ClientText.Escape(e.Message));
        }

        EndCall(context, framing, e.StatusCode, e.Message, e.RetryAfter, e.StatusDetails);
    }

    /// <summary>Ends a call whose request message did not arrive in time (logged as a refusal, not audited).</summary>
    public void FirstMessageTimedOut(HttpContext context, string method, string? user, ResponseFraming? framing, TimeSpan timeout)
    {
        var message = $"The request message did not arrive within {timeout} of the call's start (SparkConnectGateway:FirstMessageTimeout); send the request with its headers.";
        GatewayLog.CallRefused(logger, method, user ?? "-", context.Connection.RemoteIpAddress, StatusCode.DeadlineExceeded, message);
        EndCall(context, framing, StatusCode.DeadlineExceeded, message);
    }

    /// <summary>Ends a call the gateway failed to handle (a bug): INTERNAL to the client, the exception to the log.</summary>
    public void Failed(HttpContext context, string method, ResponseFraming? framing, Exception e)
    {
        GatewayLog.UnexpectedFailure(logger, method, e);
        EndCall(context, framing, StatusCode.Internal, "The gateway failed to handle the call; see the gateway's log.");
    }

    /// <summary>
    /// Ends the call with the gateway's own status. When part of a response message has already reached the client,
    /// trailers would present it as whole (clients report "unexpected end" as INTERNAL, which Spark clients do not
    /// retry); the stream is reset instead — REFUSED_STREAM, which grpc-dotnet, grpc-java and grpc-core all map to
    /// UNAVAILABLE, so clients reattach, or CANCEL for any other status.
    /// </summary>
    /// <returns>True when the stream was reset rather than ended with trailers.</returns>
    public bool EndCall(HttpContext context, ResponseFraming? framing, StatusCode status, string message, TimeSpan? retryAfter = null, byte[]? statusDetails = null)
    {
        if (context.Response.HasStarted && framing is { AtMessageBoundary: false }
            && context.Features.Get<IHttpResetFeature>() is { } reset)
        {
            GatewayLog.StreamResetMidMessage(logger, status, ClientText.Escape(message));
            reset.Reset(status == StatusCode.Unavailable ? RefusedStreamErrorCode : CancelErrorCode);
            return true;
        }

        GrpcStatusResponder.Write(context.Response, status, message, statusDetails ?? (retryAfter is { } delay ? GrpcStatusResponder.RetryInfo(status, message, delay) : null));
        return false;
    }

    /// <summary>
    /// Ends a call the drain cut short with UNAVAILABLE, so the client reattaches elsewhere. The trailers queue behind
    /// response data the client has not read yet; a client that reads slowly or not at all would only meet them once
    /// the host stops, when Kestrel resets the stream with INTERNAL_ERROR (INTERNAL to clients, which Spark clients do
    /// not retry). So the trailers get <see cref="DrainedStreamGrace"/> to get through, and the stream is then reset
    /// with REFUSED_STREAM, which gRPC clients report as UNAVAILABLE. A response cut inside a message is reset at once.
    /// </summary>
    public async Task EndDrainedCallAsync(HttpContext context, ResponseFraming? framing)
    {
        const string Message = "The gateway is shutting down and the drain time is over; reattach or retry to reach another instance.";
        if (!context.Response.HasStarted)
        {
            GrpcStatusResponder.Write(context.Response, StatusCode.Unavailable, Message);
            return;
        }

        if (framing is not { AtMessageBoundary: false })
        {
            GrpcStatusResponder.Write(context.Response, StatusCode.Unavailable, Message);
            try
            {
                await context.Response.CompleteAsync().WaitAsync(DrainedStreamGrace, time);
                return;
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException or IOException or InvalidOperationException)
            {
                // Still queued behind unread data (or the response pipe was left mid-flush): close below.
            }
        }

        GatewayLog.DrainedStreamCut(logger, DrainedStreamGrace);
        context.Features.Get<IHttpResetFeature>()?.Reset(RefusedStreamErrorCode);
    }

    /// <summary>
    /// Answers a call that cannot create a session, for a session neither the gateway nor any running engine has, as
    /// Spark's server does: ReleaseSession succeeds (an empty ReleaseSessionResponse with the session_id); the others
    /// fail with INTERNAL and Spark's INVALID_HANDLE.SESSION_NOT_FOUND ErrorInfo in grpc-status-details-bin.
    /// </summary>
    public static async ValueTask<StatusCode> AnswerUnknownSessionAsync(HttpContext context, SparkConnectMethod method, string sessionId, CancellationToken cancellationToken)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = GrpcStatusResponder.GrpcContentType;
        if (method.ReleasesSession)
        {
            await response.BodyWriter.WriteAsync(UnknownSessionAnswers.ReleaseSessionResponseFrame(sessionId), cancellationToken);
            response.AppendTrailer(GrpcStatusResponder.StatusHeader, "0");
            return StatusCode.OK;
        }

        GrpcStatusResponder.Write(response, StatusCode.Internal, UnknownSessionAnswers.Message(sessionId), UnknownSessionAnswers.StatusDetails(sessionId));
        return StatusCode.Internal;
    }

    /// <summary>
    /// Records, once the client has its whole answer (trailers included), that a routed call no longer uses its
    /// session: the end of a long stream is activity too, so idle time counts from here. With a shared store the
    /// touch is a round trip, which the client's trailers need not wait for; a store failure is logged, as it was
    /// when the touch ran before them (the answer was decided by then).
    /// </summary>
    public void EndSessionCallAfterResponse(HttpContext context, string sessionId)
        => context.Response.OnCompleted(static state =>
        {
            var (self, id) = ((CallCompletion, string))state;
            return self.SessionCallEndedAsync(id);
        }, (this, sessionId));

    /// <summary>
    /// Touches the session, then counts its call as ended: in that order a session is never both idle in the count
    /// and stale in the store, so an expiry scan between the two cannot take a session whose call just ended.
    /// </summary>
    internal async Task SessionCallEndedAsync(string sessionId)
    {
        try
        {
            await store.TouchAsync(sessionId, time.GetUtcNow(), CancellationToken.None);
        }
        catch (Exception e)
        {
            GatewayLog.SessionTouchFailed(logger, store.GetType().Name, sessionId, e);
        }
        finally
        {
            activeCalls.Ended(sessionId);
        }
    }
}
