using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using SparkConnect.Multiplexer.Engines;
using SparkConnect.Multiplexer.Internal;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Forwarding;

/// <summary>
/// Moves one admitted, routed call's bytes between the client and its engine, as YARP's <c>HttpForwarder</c> does
/// and no more: the request (already rewritten by <see cref="ForwardedRequestContent"/>) and its headers out; the
/// response headers, body (relayed chunk by chunk as the engine sends it, or through
/// <see cref="ConfigResponseFilter"/>) and trailers back; an engine that fails becomes UNAVAILABLE naming it.
/// It makes no decision about who may call what.
/// </summary>
internal sealed class EngineForwarder(
    EngineChannelPool channels,
    ConfigResponseFilter configFilter,
    GatewayMetrics metrics,
    ILogger<EngineForwarder> logger)
{
    // Measured (docs/benchmarks.md): 256 KiB reads forward one 4 MiB-batch stream ~1.5x faster than 64 KiB and
    // allocate a quarter less per MiB, with no loss for small batches; each read is still flushed at once. A read
    // starts at Kestrel's 4 KiB block and doubles only while reads fill it: a 256 KiB buffer per small answer came from
    // the shared array pool, which keeps few that large, so 64 callers allocated them on the large-object heap and
    // spent a quarter of the time in gen2 collections (docs/benchmarks.md, "Deployed: levers").
    private const int ResponseChunkSize = 256 * 1024;
    private const int FirstResponseChunkSize = 4 * 1024;

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

    // Engine URIs of the known methods, per endpoint instance: an entry goes when its endpoint is collected.
    private readonly ConditionalWeakTable<EngineEndpoint, ConcurrentDictionary<string, Uri>> _targets = new();

    /// <summary>
    /// Sends the call to its engine and relays the answer. Headers, body and trailers reach the client as the engine
    /// sent them; the gateway's own status for a failure is the caller's to write (it knows whether the client
    /// holds part of a message from <paramref name="framing"/>).
    /// </summary>
    /// <returns>The engine's gRPC status; <see cref="StatusCode.Unknown"/> when its answer carried none.</returns>
    /// <exception cref="GatewayException">UNAVAILABLE for an engine that is unreachable or fails; the client's error from a later request message.</exception>
    public async Task<StatusCode> ForwardAsync(
        HttpContext context,
        SparkConnectMethod method,
        RoutedSession route,
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

        using var activity = CallActivities.StartClient(method, route);
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
                        ? await configFilter.RelayAsync(body, context.Response.BodyWriter, token)
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
                CallActivities.SetStatus(activity, status == StatusCode.Unknown ? StatusCode.Unavailable : status);
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
        var chunk = FirstResponseChunkSize;
        var drained = true;
        while (true)
        {
            if (drained)
            {
                // Nothing left from the last read: wait for the engine's next bytes holding no buffer, so a stream
                // waiting on a long query keeps none (HTTP/2 response streams complete a zero-byte read on data).
                _ = await source.ReadAsync(Memory<byte>.Empty, cancellationToken);
            }

            var buffer = destination.GetMemory(chunk);
            var read = await source.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                return total;
            }

            drained = read < chunk;
            if (!drained && chunk < ResponseChunkSize)
            {
                chunk *= 2;
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
