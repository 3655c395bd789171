using System.Diagnostics;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Admission;
using SparkConnect.Multiplexer.Authenticators;
using SparkConnect.Multiplexer.Hosting;
using SparkConnect.Multiplexer.Internal;
using SparkConnect.Multiplexer.Protocol;
using SparkConnect.Multiplexer.Sessions;

namespace SparkConnect.Multiplexer.Forwarding;

/// <summary>
/// Handles one call to any <c>/spark.connect.SparkConnectService/*</c> method as a pipeline whose every step reads the
/// call's method descriptor (<see cref="SparkConnectMethod"/>, decided once from the raw path), never the client's
/// path text: admit (transport, shutdown, deadline, the address's call rate) → authenticate (then the user's call
/// rate and the method) → authorize (deny lists, the confs the request changes) → route (the session's engine,
/// executions, clone claims) → forward (<see cref="EngineForwarder"/>, which only moves bytes) → complete
/// (<see cref="CallCompletion"/>: the gateway's status, refusal records, session bookkeeping). The policy lives in
/// the steps' own classes (<see cref="CallAdmission"/>, <see cref="AuthenticationChain"/>, <see cref="SessionRouter"/>);
/// this class only orders them and owns the call's resources.
/// </summary>
internal sealed class CallPipeline(
    AuthenticationChain authentication,
    CallAdmission admission,
    SessionRouter router,
    EngineForwarder forwarder,
    CallCompletion completion,
    ActiveCalls activeCalls,
    GatewayShutdown shutdown,
    IOptionsMonitor<SparkConnectGatewayOptions> options,
    GatewayMetrics metrics,
    TimeProvider time,
    ILogger<CallPipeline> logger)
{
    /// <summary>
    /// How much of the first message an authenticator that needs the claimed user id may make the gateway read
    /// (and, compressed, inflate) before the call is authenticated. Spark clients write the user context in the
    /// first hundred bytes; the bound keeps an unauthenticated client from making the gateway hold more.
    /// </summary>
    internal const int ClaimedUserPrefixLimit = 64 * 1024;

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
        using var span = CallActivities.StartServer(context, telemetryMethod);

        CallDeadline? deadline = null;
        GrpcRequestReader? reader = null;
        RewrittenRequest? first = null;
        ForwardedRequestContent? content = null;
        ResponseFraming? framing = null;
        string? activeSession = null;
        string? user = null;
        IDisposable? execution = null;
        try
        {
            // Admit.
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
            deadline.StartFirstMessagePhase(gatewayOptions.FirstMessageTimeout);
            reader = new GrpcRequestReader(context.Request.BodyReader, gatewayOptions.MaxMessageSize, context.Request.Headers["grpc-encoding"].ToString() is { Length: > 0 } e ? e : null);
            var peer = context.Connection.RemoteIpAddress;
            await admission.AdmitAddressAsync(peer, token);

            // Authenticate. Credentials in headers and the TLS handshake are checked before any request byte is read;
            // only an authenticator that needs the claimed user id reads a bounded prefix of the first message.
            var requestReader = reader;
            var principal = await authentication.AuthenticateAsync(context, ct => ReadClaimedUserIdAsync(requestReader, ct), token);
            user = principal.UserName;
            span?.SetTag("enduser.id", user);
            await admission.AdmitUserAsync(principal, token);
            admission.AdmitMethod(method);

            var message = await reader.ReadAsync(token) is { } read
                ? read
                : throw GatewayException.InvalidArgument("The call carried no request message; every Spark Connect request carries a session_id.");
            if (method.HasSingleRequest)
            {
                await reader.EnsureNoMoreMessagesAsync(method.Name, token);
            }

            deadline.EndFirstMessagePhase();

            var envelope = RequestEnvelope.Parse(message, readCloneNewSessionId: method.ClonesSession);
            var sessionId = ValidSessionId(envelope.SessionId, "session_id");

            // Authorize.
            admission.Authorize(principal, peer, method, message);

            // Route.
            if (await router.RouteAsync(context, principal, sessionId, method, token) is not { } route)
            {
                // Nothing launched, nothing claimed: the answer Spark gives for a session it does not have.
                status = await CallCompletion.AnswerUnknownSessionAsync(context, method, sessionId, token);
                return;
            }

            activeCalls.Started(sessionId);
            activeSession = sessionId;
            span?.SetTag("spark_connect.session_id", sessionId)
                .SetTag("spark_connect.engine.id", route.Engine.Id);
            execution = admission.StartExecution(principal, method);

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

            // Forward.
            first = RewrittenRequest.Create(message, envelope, principal.UserName, generatedCloneId);
            content = new ForwardedRequestContent(reader, first, sessionId, principal.UserName, token);
            framing = new ResponseFraming();
            GatewayLog.Forwarding(logger, telemetryMethod, sessionId, principal.UserName, route.Engine.Id);
            status = await forwarder.ForwardAsync(context, method, route, content, framing, deadline);

            // Complete. The engine's answer has been relayed: a store failure from here on is logged (by the router), not sent.
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
                completion.Refused(context, telemetryMethod, user, framing, e);
            }
        }
        catch (Exception) when (deadline is not null && deadline.Shutdown.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            status = StatusCode.Unavailable;
            await completion.EndDrainedCallAsync(context, framing);
        }
        catch (Exception) when (deadline is { IsExpired: true })
        {
            status = StatusCode.DeadlineExceeded;
            completion.EndCall(context, framing, status, "Deadline exceeded.");
        }
        catch (Exception) when (deadline is { FirstMessageTimedOut: true })
        {
            status = StatusCode.DeadlineExceeded;
            completion.FirstMessageTimedOut(context, telemetryMethod, user, framing, options.CurrentValue.FirstMessageTimeout);
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away (or cancelled); the engine call has been cancelled with it.
            status = StatusCode.Cancelled;
        }
        catch (Exception e)
        {
            status = StatusCode.Internal;
            completion.Failed(context, telemetryMethod, framing, e);
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
            deadline?.Dispose();
            execution?.Dispose();
            if (activeSession is not null)
            {
                completion.EndSessionCallAfterResponse(context, activeSession);
            }

            metrics.CallEnded(telemetryMethod, status, startTimestamp);
            if (span is not null)
            {
                CallActivities.SetStatus(span, status);
            }
        }
    }

    private static ValueTask<string?> ReadClaimedUserIdAsync(GrpcRequestReader reader, CancellationToken cancellationToken)
        => reader.PeekFirstMessagePrefixAsync(ClaimedUserPrefixLimit, RequestEnvelope.ReadClaimedUserId, cancellationToken);

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
}
