using System.Buffers;
using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Authenticators;
using SparkConnect.Multiplexer.Authorization;
using SparkConnect.Multiplexer.Diagnostics;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.Hosting;
using SparkConnect.Multiplexer.Sessions;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Forwarding;

/// <summary>
/// Handles one call to any <c>/spark.connect.SparkConnectService/*</c> method: read the first message's envelope,
/// authenticate, apply the session rules, and forward to the session's engine — request messages rewritten for the
/// user, the response relayed chunk by chunk as the engine sends it, headers and trailers as they are.
/// </summary>
internal sealed class SparkConnectCallHandler(
    AuthenticationChain authentication,
    SessionRouter router,
    EngineChannelPool channels,
    GatewayLimits limits,
    CallRateLimits rateLimits,
    AuthorizationPolicy authorization,
    GatewayAudit audit,
    ActiveCalls activeCalls,
    GatewayShutdown shutdown,
    ISessionStore store,
    IOptionsMonitor<SparkConnectGatewayOptions> options,
    GatewayMetrics metrics,
    Management.LiveDenyList liveDenyList,
    Management.RecentRefusals recentRefusals,
    TimeProvider time,
    ILogger<SparkConnectCallHandler> logger)
{
    // Measured (docs/benchmarks.md): 256 KiB reads forward one 4 MiB-batch stream ~1.5x faster than 64 KiB and
    // allocate a quarter less per MiB, with no loss for small batches; each read is still flushed at once.
    private const int ResponseChunkSize = 256 * 1024;
    private const int ConfigResponseInitialBuffer = 4 * 1024;
    private const int RefusedStreamErrorCode = 0x7;
    private const int CancelErrorCode = 0x8;

    // Engine URIs of the known methods, per endpoint instance: an entry goes when its endpoint is collected.
    private readonly ConditionalWeakTable<EngineEndpoint, System.Collections.Concurrent.ConcurrentDictionary<string, Uri>> _targets = new();

    private static readonly FrozenSet<string> RequestHeadersNotForwarded = FrozenSet.ToFrozenSet(
    [
        "host", "authorization", "authentication", "connection", "keep-alive", "proxy-connection", "transfer-encoding",
        "upgrade", "te", "content-length", "expect", CallDeadline.TimeoutHeader,
    ], StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenSet<string> TraceHeaders = FrozenSet.ToFrozenSet(
        ["traceparent", "tracestate", "baggage", "request-id", "correlation-context"], StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenSet<string> ResponseHeadersNotForwarded = FrozenSet.ToFrozenSet(
        ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "content-length", "date", "server"],
        StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// How much of the first message an authenticator that needs the claimed user id may make the gateway read
    /// (and, compressed, inflate) before the call is authenticated. Spark clients write the user context in the
    /// first hundred bytes; the bound keeps an unauthenticated client from making the gateway hold more.
    /// </summary>
    internal const int ClaimedUserPrefixLimit = 64 * 1024;

    /// <summary>How long, at the end of the drain, a stream's UNAVAILABLE trailers may wait behind data the client has not read.</summary>
    internal static readonly TimeSpan DrainedStreamGrace = TimeSpan.FromSeconds(1);

    public async Task HandleAsync(HttpContext context)
    {
        // The one decision about what this call is: every rule below reads it, and never the client's path text.
        var method = SparkConnectMethods.Resolve(context.Features.Get<IHttpRequestFeature>()?.RawTarget);
        var telemetryMethod = method?.TelemetryName ?? SparkConnectMethods.OtherMethod;
        var startTimestamp = Stopwatch.GetTimestamp();
        var status = StatusCode.OK;

        if (!AcceptsTransport(context))
        {
            return;
        }

        // The server span covers the whole call — authentication, routing and any engine launch included.
        using var span = StartServerActivity(context, telemetryMethod);

        CallDeadline? deadline = null;
        CancellationTokenSource? firstMessagePhase = null;
        GrpcRequestReader? reader = null;
        RewrittenRequest? first = null;
        ForwardedRequestContent? content = null;
        ResponseFraming? framing = null;
        string? activeSession = null;
        string? user = null;
        IDisposable? execution = null;
        try
        {
            if (shutdown.IsStopping)
            {
                throw new GatewayException(StatusCode.Unavailable, "The gateway is shutting down; retry to reach another instance.");
            }

            if (method is null)
            {
                throw new GatewayException(StatusCode.Unimplemented, $"{ClientText.Quote(context.Request.Path.Value, 128)} is not a method of {SparkConnectMethods.ServiceName}; method names are plain (letters, digits, '_'), case-sensitive and not percent-encoded.");
            }

            deadline = CallDeadline.Start(context, time, shutdown.DrainExpired);
            var token = deadline.Token;
            var gatewayOptions = options.CurrentValue;

            // Until the request's first message (for a unary-request method, the whole request) is in, the call runs
            // against FirstMessageTimeout too: a client that sends headers and then nothing does not keep a stream.
            firstMessagePhase = CancellationTokenSource.CreateLinkedTokenSource(token);
            firstMessagePhase.CancelAfter(gatewayOptions.FirstMessageTimeout);
            var firstToken = firstMessagePhase.Token;
            reader = new GrpcRequestReader(context.Request.BodyReader, gatewayOptions.MaxMessageSize, context.Request.Headers["grpc-encoding"].ToString() is { Length: > 0 } e ? e : null);

            // The address's call rate first: it bounds what even unauthenticated clients cost.
            await rateLimits.AdmitAddressAsync(context.Connection.RemoteIpAddress, firstToken);

            // Credentials in headers and the TLS handshake are checked before any request byte is read; only an
            // authenticator that needs the claimed user id reads a bounded prefix of the first message.
            var requestReader = reader;
            var principal = await authentication.AuthenticateAsync(context, ct => ReadClaimedUserIdAsync(requestReader, ct), firstToken);
            user = principal.UserName;
            span?.SetTag("enduser.id", user);
            await rateLimits.AdmitUserAsync(principal, firstToken);
            if (!method.IsKnown && authorization.HasConfigDenyList && !authorization.AllowsUnknownMethod(method.Name))
            {
                throw new GatewayException(StatusCode.PermissionDenied, $"The gateway does not know the method '{method.Name}' and cannot check whether it changes Spark confs, which SparkConnectGateway:Authorization:DeniedConfigKeys restricts; an administrator can allow it with SparkConnectGateway:Authorization:AllowedUnknownMethods.");
            }

            var message = await reader.ReadAsync(firstToken) is { } read
                ? read
                : throw GatewayException.InvalidArgument("The call carried no request message; every Spark Connect request carries a session_id.");
            if (method.HasSingleRequest)
            {
                await reader.EnsureNoMoreMessagesAsync(method.Name, firstToken);
            }

            firstMessagePhase.Dispose();
            firstMessagePhase = null;

            var envelope = RequestEnvelope.Parse(message, readCloneNewSessionId: method.ClonesSession);
            var sessionId = ValidSessionId(envelope.SessionId, "session_id");

            try
            {
                limits.Admit(principal, context.Connection.RemoteIpAddress);
                liveDenyList.Check(principal, context.Connection.RemoteIpAddress);
            }
            catch (GatewayException denied) when (denied.StatusCode == StatusCode.PermissionDenied)
            {
                denied.Refusal ??= RefusalReasons.DenyList;
                throw;
            }
            if (method.ChangesConfig)
            {
                authorization.AuthorizeConfigChange(ConfigMessages.ChangedKeys(message));
            }
            else if (authorization.HasConfigDenyList && method.MayCarryPlans)
            {
                authorization.AuthorizeSqlConfigChanges(method.Name, message);
            }

            if (await router.RouteAsync(context, principal, sessionId, method.MayCreateSession, token) is not { } route)
            {
                // Nothing launched, nothing claimed: the answer Spark gives for a session it does not have.
                status = await AnswerUnknownSessionAsync(context, method, sessionId, token);
                return;
            }

            activeCalls.Started(sessionId);
            activeSession = sessionId;
            span?.SetTag("spark_connect.session_id", sessionId)
                .SetTag("spark_connect.engine.id", route.Engine.Id);
            if (method.StartsExecution)
            {
                execution = limits.StartExecution(principal);
            }

            string? cloneId = null;
            string? generatedCloneId = null;
            var cloneClaimed = false;
            if (method.ClonesSession)
            {
                // Without a new id the engine would choose one the gateway never sees; choosing it here keeps every
                // session the engine knows bound to its owner.
                cloneId = string.IsNullOrEmpty(envelope.NewSessionId)
                    ? generatedCloneId = Guid.NewGuid().ToString()
                    : ValidSessionId(envelope.NewSessionId, "new_session_id");
                cloneClaimed = await router.ClaimCloneAsync(context, route, cloneId, principal, token);
            }

            first = RewrittenRequest.Create(message, envelope, principal.UserName, generatedCloneId);
            content = new ForwardedRequestContent(reader, first, sessionId, principal.UserName, token);
            framing = new ResponseFraming();
            GatewayLog.Forwarding(logger, telemetryMethod, sessionId, principal.UserName, route.Engine.Id);

            status = await ForwardAsync(context, method, route, principal, content, framing, deadline);

            // The engine's answer has been relayed: a store failure from here on is logged (by the router), not sent.
            if (status == StatusCode.OK && method.ReleasesSession)
            {
                await router.TryForgetAsync(sessionId, SessionCloseReasons.Released);
            }
            else if (status != StatusCode.OK && cloneClaimed)
            {
                await router.TryForgetAsync(cloneId!, SessionCloseReasons.CloneFailed);
            }
        }
        catch (GatewayException e)
        {
            status = e.StatusCode;
            if (!context.RequestAborted.IsCancellationRequested)
            {
                GatewayLog.CallRefused(logger, telemetryMethod, user ?? "-", context.Connection.RemoteIpAddress, e.StatusCode, ClientText.Escape(e.Message));
                var client = SessionRouter.AddressOf(context.Connection.RemoteIpAddress);

                var isRefusal = e.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied or StatusCode.ResourceExhausted;

                // Refusals an operator answers for — a denial or a limit, no engine, an engine that cannot serve —
                // are audited with the user, not only logged.
                if (isRefusal || e.StatusCode is StatusCode.FailedPrecondition or StatusCode.Unavailable or StatusCode.NotFound)
                {
                    audit.CallRefused(telemetryMethod, user ?? "-", client, e.StatusCode, ClientText.Escape(e.Message));
                }

                if (isRefusal)
                {
                    var refusal = RefusalReasons.Of(e);
                    if (refusal is not null)
                    {
                        metrics.Refused(refusal, telemetryMethod);
                    }

                    recentRefusals.Add(telemetryMethod, user, client, e.StatusCode, refusal ?? "authentication", ClientText.Escape(e.Message));
                }

                EndCall(context, framing, e.StatusCode, e.Message, e.RetryAfter, e.StatusDetails);
            }
        }
        catch (Exception e) when (deadline is not null && deadline.Shutdown.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            _ = e;
            status = StatusCode.Unavailable;
            await EndDrainedCallAsync(context, framing);
        }
        catch (Exception e) when (deadline is { IsExpired: true })
        {
            _ = e;
            status = StatusCode.DeadlineExceeded;
            EndCall(context, framing, status, "Deadline exceeded.");
        }
        catch (Exception e) when (firstMessagePhase is { IsCancellationRequested: true } && !deadline!.Token.IsCancellationRequested)
        {
            _ = e;
            status = StatusCode.DeadlineExceeded;
            var message = $"The request message did not arrive within {options.CurrentValue.FirstMessageTimeout} of the call's start (SparkConnectGateway:FirstMessageTimeout); send the request with its headers.";
            GatewayLog.CallRefused(logger, telemetryMethod, user ?? "-", context.Connection.RemoteIpAddress, status, message);
            EndCall(context, framing, status, message);
        }
        catch (Exception e) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away (or cancelled); the engine call has been cancelled with it.
            _ = e;
            status = StatusCode.Cancelled;
        }
        catch (Exception e)
        {
            status = StatusCode.Internal;
            GatewayLog.UnexpectedFailure(logger, telemetryMethod, e);
            EndCall(context, framing, status, "The gateway failed to handle the call; see the gateway's log.");
        }
        finally
        {
            if (content is { Started: true })
            {
                // Stop the body pump and wait for it: the client's request stream must not be touched after this call ends.
                deadline?.Cancel();
                await content.Completion;
            }

            first?.Dispose();
            reader?.Release();
            firstMessagePhase?.Dispose();
            deadline?.Dispose();
            execution?.Dispose();
            if (activeSession is not null)
            {
                activeCalls.Ended(activeSession);

                // The end of a long stream is activity too: idle time counts from here. The call's answer is already
                // sent, so a store failure is only logged.
                try
                {
                    await store.TouchAsync(activeSession, time.GetUtcNow(), CancellationToken.None);
                }
                catch (Exception e)
                {
                    GatewayLog.SessionTouchFailed(logger, store.GetType().Name, activeSession, e);
                }
            }

            metrics.CallEnded(telemetryMethod, status, startTimestamp);
            if (span is not null)
            {
                SetStatus(span, status);
            }
        }
    }

    /// <summary>
    /// Answers a call that cannot create a session, for a session neither the gateway nor any running engine has, as
    /// Spark's server does: ReleaseSession succeeds (an empty ReleaseSessionResponse with the session_id); the others
    /// fail with INTERNAL and Spark's INVALID_HANDLE.SESSION_NOT_FOUND ErrorInfo in grpc-status-details-bin.
    /// </summary>
    private static async ValueTask<StatusCode> AnswerUnknownSessionAsync(HttpContext context, SparkConnectMethod method, string sessionId, CancellationToken cancellationToken)
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

    private static ValueTask<string?> ReadClaimedUserIdAsync(GrpcRequestReader reader, CancellationToken cancellationToken)
        => reader.PeekFirstMessagePrefixAsync(ClaimedUserPrefixLimit, RequestEnvelope.ReadClaimedUserId, cancellationToken);

    /// <summary>
    /// Ends the call with the gateway's own status. When part of a response message has already reached the client,
    /// trailers would present it as whole (clients report "unexpected end" as INTERNAL, which Spark clients do not
    /// retry); the stream is reset instead — REFUSED_STREAM, which grpc-dotnet, grpc-java and grpc-core all map to
    /// UNAVAILABLE, so clients reattach, or CANCEL for any other status.
    /// </summary>
    /// <returns>True when the stream was reset rather than ended with trailers.</returns>
    private bool EndCall(HttpContext context, ResponseFraming? framing, StatusCode status, string message, TimeSpan? retryAfter = null, byte[]? statusDetails = null)
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
    private async Task EndDrainedCallAsync(HttpContext context, ResponseFraming? framing)
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

    private static bool AcceptsTransport(HttpContext context)
    {
        var request = context.Request;
        if (!HttpProtocol.IsHttp2(request.Protocol) && !HttpProtocol.IsHttp3(request.Protocol))
        {
            context.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
            context.Response.Headers.Upgrade = "h2c";
            return false;
        }

        if (request.ContentType is not { } contentType || !contentType.StartsWith(GrpcStatusResponder.GrpcContentType, StringComparison.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return false;
        }

        // Streams may be long and large: no body size cap (messages are capped instead), no minimum data rate,
        // and no response buffering, so every chunk reaches the client as it arrives.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } maxBody)
        {
            maxBody.MaxRequestBodySize = null;
        }

        if (context.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } minRate)
        {
            minRate.MinDataRate = null;
        }

        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        return true;
    }

    private static string ValidSessionId(string? value, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw GatewayException.InvalidArgument($"The request has no {field}; Spark Connect clients send a UUID such as 6f1c0a4e-3b7d-4c39-9a51-2d0f5b7e8c11.");
        }

        // Exactly the 36-character form: Guid parsing alone also accepts surrounding white space, which would make
        // two spellings of one session id (one for the gateway's rules, another at the engine).
        return value.Length == 36 && Guid.TryParseExact(value, "D", out _)
            ? value
            : throw GatewayException.InvalidArgument($"{field} {ClientText.Quote(value)} is not a UUID in its 36-character form (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, no spaces).");
    }

    private async Task<StatusCode> ForwardAsync(
        HttpContext context,
        SparkConnectMethod method,
        RoutedSession route,
        GatewayPrincipal principal,
        ForwardedRequestContent content,
        ResponseFraming framing,
        CallDeadline deadline)
    {
        var engine = route.Engine;
        var token = deadline.Token;
        using var request = new HttpRequestMessage(HttpMethod.Post, TargetOf(engine, method))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };

        using var activity = StartClientActivity(method, route);
        var inspectsResponse = method.InspectsResponse;
        CopyRequestHeaders(context.Request.Headers, request, forwardTraceHeaders: activity is null, allowCompressedResponse: !inspectsResponse);
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        if (deadline.RemainingTimeoutHeader() is { } timeout)
        {
            request.Headers.TryAddWithoutValidation(CallDeadline.TimeoutHeader, timeout);
        }

        if (engine.AccessToken is { } accessToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }

        if (activity is not null)
        {
            DistributedContextPropagator.Current.Inject(activity, request, static (carrier, name, value) =>
                ((HttpRequestMessage)carrier!).Headers.TryAddWithoutValidation(name, value));
        }

        var engineStart = Stopwatch.GetTimestamp();
        long responseBytes = 0;
        var status = StatusCode.Unknown;
        try
        {
            HttpResponseMessage response;
            try
            {
                response = await channels.For(engine).SendAsync(request, token);
            }
            catch (Exception e) when (!token.IsCancellationRequested)
            {
                throw content.Failure ?? EngineFailure(engine, method, route.Session.SessionId, "is unreachable", e);
            }

            using (response)
            {
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    throw new GatewayException(StatusFromHttp(response.StatusCode), $"Engine '{engine.Id}' at {engine.Address} answered HTTP {(int)response.StatusCode} instead of gRPC; check that the address is a Spark Connect endpoint.");
                }

                CopyResponseHeaders(response, context.Response);
                if (TryReadStatus(response.Headers, out var trailersOnly))
                {
                    // Trailers-only (the engine refused the call outright): already copied as headers.
                    status = trailersOnly;
                    return status;
                }

                await context.Response.StartAsync(token);
                try
                {
                    var body = await response.Content.ReadAsStreamAsync(token);
                    responseBytes = inspectsResponse
                        ? await RelayConfigAsync(body, context.Response.BodyWriter, token)
                        : await RelayAsync(body, context.Response.BodyWriter, framing, token);
                }
                catch (Exception e) when (!token.IsCancellationRequested && e is not GatewayException)
                {
                    throw content.Failure ?? EngineFailure(engine, method, route.Session.SessionId, "failed mid-stream", e);
                }

                foreach (var (name, values) in response.TrailingHeaders.NonValidated)
                {
                    foreach (var value in values)
                    {
                        context.Response.AppendTrailer(name, value);
                    }
                }

                if (!framing.AtMessageBoundary)
                {
                    // The engine ended its answer inside a message: what the client holds is not a whole message.
                    throw EngineFailure(engine, method, route.Session.SessionId, "ended its response inside a gRPC message", null);
                }

                status = TryReadStatus(response.TrailingHeaders, out var trailerStatus) ? trailerStatus : StatusCode.Unknown;
                return status;
            }
        }
        finally
        {
            if (activity is not null)
            {
                // An engine that failed (no answer, a cut stream) leaves the status Unknown: UNAVAILABLE is what the client gets.
                SetStatus(activity, status == StatusCode.Unknown ? StatusCode.Unavailable : status);
            }

            metrics.Forwarded(content.BytesSent, responseBytes);
            metrics.EngineCallEnded(method.TelemetryName, engine.Id, engineStart);
        }
    }

    /// <summary>
    /// The engine URI of a method, built from its decided name (never from the client's path text); cached for known
    /// methods only, since unknown names come from clients.
    /// </summary>
    private Uri TargetOf(EngineEndpoint engine, SparkConnectMethod method)
        => method.IsKnown
            ? _targets.GetValue(engine, static _ => new(StringComparer.Ordinal))
                .GetOrAdd(method.Name, static (name, address) => new Uri(address, SparkConnectMethods.ServicePath + name), engine.Address)
            : new Uri(engine.Address, SparkConnectMethods.ServicePath + method.Name);

    /// <summary>
    /// Copies the engine's response body to the client as it arrives, straight into the client's send buffer,
    /// following the gRPC framing so a failure can tell whether the client holds a partial message.
    /// </summary>
    /// <remarks>
    /// The flush is stopped with <see cref="PipeWriter.CancelPendingFlush"/>, never with the token: Kestrel answers a
    /// flush cancelled by its token by resetting the stream with INTERNAL_ERROR at once, which clients report as
    /// INTERNAL (not retried), and the call could no longer end with the status it should (UNAVAILABLE at the drain's
    /// end).
    /// </remarks>
    private static async Task<long> RelayAsync(Stream source, PipeWriter destination, ResponseFraming framing, CancellationToken cancellationToken)
    {
        using var stopFlush = cancellationToken.UnsafeRegister(static state => ((PipeWriter)state!).CancelPendingFlush(), destination);
        long total = 0;
        while (true)
        {
            var buffer = destination.GetMemory(ResponseChunkSize);
            var read = await source.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                return total;
            }

            framing.Observe(buffer.Span[..read]);
            destination.Advance(read);
            total += read;
            var flushed = await destination.FlushAsync(CancellationToken.None);
            if (flushed.IsCanceled)
            {
                throw new OperationCanceledException("The call was cancelled while its response was being sent.", cancellationToken);
            }

            if (flushed.IsCompleted)
            {
                throw new OperationCanceledException("The client stopped reading the response.");
            }
        }
    }

    /// <summary>
    /// Config responses are small and unary: read whole, drop the pairs whose key is secret, and send on. The engine
    /// was not offered compression, so a compressed message means something is wrong: refuse rather than pass it.
    /// </summary>
    private async Task<long> RelayConfigAsync(Stream source, PipeWriter destination, CancellationToken cancellationToken)
    {
        var limit = options.CurrentValue.MaxMessageSize + 5L;

        // Pooled: a Config answer is a few hundred bytes, and every Config call comes through here.
        var buffer = MessageBuffers.Rent(ConfigResponseInitialBuffer);
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

            return await WriteConfigFramesAsync(buffer.AsMemory(0, length), destination, cancellationToken);
        }
        finally
        {
            MessageBuffers.Return(buffer);
        }
    }

    private async Task<long> WriteConfigFramesAsync(ReadOnlyMemory<byte> frames, PipeWriter destination, CancellationToken cancellationToken)
    {
        long written = 0;
        while (frames.Length >= 5)
        {
            var length = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(frames.Span[1..5]);
            if (frames.Span[0] != 0 || frames.Length < 5 + length)
            {
                throw new GatewayException(StatusCode.Internal, "The engine sent a compressed or truncated Config response, which the gateway cannot check for secrets.");
            }

            var message = frames.Slice(5, length);
            ReadOnlyMemory<byte> kept = ConfigMessages.WithoutHiddenPairs(message, authorization.IsHidden) is { } filtered ? filtered : message;
            var header = destination.GetSpan(5);
            header[0] = 0;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header[1..5], (uint)kept.Length);
            destination.Advance(5);
            await destination.WriteAsync(kept, cancellationToken);
            written += 5 + kept.Length;
            frames = frames[(5 + length)..];
        }

        return written;
    }

    private GatewayException EngineFailure(EngineEndpoint engine, SparkConnectMethod method, string sessionId, string what, Exception? e)
    {
        var reason = e is null ? "" : ": " + Describe(e);
        GatewayLog.EngineFailed(logger, engine.Id, method.TelemetryName, sessionId, reason, e);
        return new GatewayException(StatusCode.Unavailable, $"Engine '{engine.Id}' at {engine.Address} {what}{reason}", e);
    }

    private static string Describe(Exception e)
    {
        var innermost = e;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }

        return ReferenceEquals(innermost, e) || e.Message.Contains(innermost.Message, StringComparison.Ordinal)
            ? e.Message
            : $"{e.Message} ({innermost.Message})";
    }

    /// <summary>
    /// The call's server span, named and tagged by OpenTelemetry's RPC semantic conventions
    /// (<c>spark.connect.SparkConnectService/Method</c>; <c>_OTHER</c> for a method Spark has not released), the
    /// child of the ASP.NET Core request span or, with no listener there, of the client's <c>traceparent</c>.
    /// </summary>
    private static Activity? StartServerActivity(HttpContext context, string method)
    {
        var source = GatewayActivitySource.Instance;
        if (!source.HasListeners())
        {
            return null;
        }

        var name = SparkConnectMethods.ServiceName + "/" + method;
        var activity = Activity.Current is null
            && context.Request.Headers.TryGetValue("traceparent", out var traceparent)
            && ActivityContext.TryParse(traceparent.ToString(), context.Request.Headers["tracestate"].ToString(), isRemote: true, out var parent)
                ? source.StartActivity(name, ActivityKind.Server, parent)
                : source.StartActivity(name, ActivityKind.Server);
        return activity?.SetTag("rpc.system", "grpc")
            .SetTag("rpc.service", SparkConnectMethods.ServiceName)
            .SetTag("rpc.method", method);
    }

    /// <summary>The engine call's client span, a child of the server span: the same name, and the engine as <c>server.address</c>/<c>server.port</c>.</summary>
    private static Activity? StartClientActivity(SparkConnectMethod method, RoutedSession route)
    {
        var source = GatewayActivitySource.Instance;
        if (!source.HasListeners())
        {
            return null;
        }

        var activity = source.StartActivity(SparkConnectMethods.ServiceName + "/" + method.TelemetryName, ActivityKind.Client);
        return activity?.SetTag("rpc.system", "grpc")
            .SetTag("rpc.service", SparkConnectMethods.ServiceName)
            .SetTag("rpc.method", method.TelemetryName)
            .SetTag("server.address", route.Engine.Address.Host)
            .SetTag("server.port", route.Engine.Address.Port)
            .SetTag("spark_connect.session_id", route.Session.SessionId)
            .SetTag("spark_connect.engine.id", route.Engine.Id);
    }

    /// <summary>
    /// The gRPC status on a span: <c>rpc.grpc.status_code</c>, and for a failure (per the conventions, every status
    /// but OK for a client span; for a server span the ones that are the server's fault) an error status and
    /// <c>error.type</c> = the status name.
    /// </summary>
    private static void SetStatus(Activity activity, StatusCode status)
    {
        activity.SetTag("rpc.grpc.status_code", (int)status);
        var isError = activity.Kind == ActivityKind.Client
            ? status != StatusCode.OK
            : status is StatusCode.Unknown or StatusCode.DeadlineExceeded or StatusCode.Unimplemented or StatusCode.Internal or StatusCode.Unavailable or StatusCode.DataLoss;
        if (isError)
        {
            activity.SetTag("error.type", GrpcStatusResponder.Name(status));
            activity.SetStatus(ActivityStatusCode.Error);
        }
    }

    private static void CopyRequestHeaders(IHeaderDictionary source, HttpRequestMessage request, bool forwardTraceHeaders, bool allowCompressedResponse)
    {
        foreach (var (name, values) in source)
        {
            if (name.StartsWith(':') || RequestHeadersNotForwarded.Contains(name) || (!forwardTraceHeaders && TraceHeaders.Contains(name))
                || (!allowCompressedResponse && name.Equals("grpc-accept-encoding", StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            // One value is the common case: pass the string itself rather than a copied array.
            var added = values.Count == 1
                ? request.Headers.TryAddWithoutValidation(name, values[0])
                : request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            if (!added)
            {
                _ = values.Count == 1
                    ? request.Content!.Headers.TryAddWithoutValidation(name, values[0])
                    : request.Content!.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }
    }

    private static void CopyResponseHeaders(HttpResponseMessage source, HttpResponse destination)
    {
        destination.StatusCode = StatusCodes.Status200OK;
        foreach (var (name, values) in source.Headers.NonValidated)
        {
            if (!ResponseHeadersNotForwarded.Contains(name))
            {
                destination.Headers[name] = values.Count == 1 ? values.ToString() : values.ToArray();
            }
        }

        foreach (var (name, values) in source.Content.Headers.NonValidated)
        {
            if (!ResponseHeadersNotForwarded.Contains(name))
            {
                destination.Headers[name] = values.Count == 1 ? values.ToString() : values.ToArray();
            }
        }
    }

    private static bool TryReadStatus(HttpHeaders headers, out StatusCode status)
    {
        status = StatusCode.Unknown;
        if (!headers.NonValidated.TryGetValues(GrpcStatusResponder.StatusHeader, out var values))
        {
            return false;
        }

        foreach (var value in values)
        {
            if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var code))
            {
                status = (StatusCode)code;
            }
        }

        return true;
    }

    /// <summary>The gRPC spec's mapping for an HTTP status that is not 200.</summary>
    private static StatusCode StatusFromHttp(HttpStatusCode code) => code switch
    {
        HttpStatusCode.BadRequest => StatusCode.Internal,
        HttpStatusCode.Unauthorized => StatusCode.Unauthenticated,
        HttpStatusCode.Forbidden => StatusCode.PermissionDenied,
        HttpStatusCode.NotFound => StatusCode.Unimplemented,
        HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };
}
