using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Grpc.Core;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Engines;

/// <summary>
/// Makes the gateway's own unary calls to an engine: readiness and health probes, and ReleaseSession for expired
/// sessions. Uses the same pooled HTTP/2 clients as forwarding.
/// </summary>
internal sealed class EngineCaller(EngineChannelPool channels)
{
    /// <summary>The user the gateway's own calls run as.</summary>
    public const string GatewayUser = "spark-connect-multiplexer";

    /// <summary>
    /// Asks the engine for a config value on the given probe session. True when the engine answered with status OK
    /// (a Spark Connect server that is up and serving); the reason otherwise.
    /// </summary>
    public async Task<(bool Healthy, string Reason)> ProbeAsync(EngineEndpoint engine, string probeSessionId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var (status, message) = await CallAsync(engine, SparkConnectMethods.Config, GatewayRequests.ConfigGetAll(probeSessionId, GatewayUser, "spark.app.name"), timeout, cancellationToken);
        return status == StatusCode.OK ? (true, "") : (false, $"{status}: {message}");
    }

    /// <summary>Releases a session on its engine; false (with the reason) when the engine did not confirm.</summary>
    public async Task<(bool Released, string Reason)> ReleaseSessionAsync(EngineEndpoint engine, string sessionId, string user, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var (status, message) = await CallAsync(engine, SparkConnectMethods.ReleaseSession, GatewayRequests.ReleaseSession(sessionId, user), timeout, cancellationToken);
        return status == StatusCode.OK ? (true, "") : (false, $"{status}: {message}");
    }

    private async Task<(StatusCode Status, string Message)> CallAsync(EngineEndpoint engine, SparkConnectMethod method, byte[] frame, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(engine.Address, SparkConnectMethods.ServicePath + method.Name))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(frame),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(GrpcStatusResponder.GrpcContentType);
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        request.Headers.TryAddWithoutValidation(CallDeadline.TimeoutHeader, ((long)Math.Max(1, timeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "m");
        if (engine.AccessToken is { } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        try
        {
            using var response = await channels.For(engine).SendAsync(request, deadline.Token);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return (StatusCode.Unavailable, $"HTTP {(int)response.StatusCode}");
            }

            // Drain the (small) body so the trailers arrive.
            await response.Content.CopyToAsync(Stream.Null, deadline.Token);
            var headers = response.TrailingHeaders.NonValidated.Contains(GrpcStatusResponder.StatusHeader) ? response.TrailingHeaders : (HttpHeaders)response.Headers;
            var status = headers.NonValidated.TryGetValues(GrpcStatusResponder.StatusHeader, out var values)
                && int.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var code)
                ? (StatusCode)code
                : StatusCode.Unknown;
            var message = headers.NonValidated.TryGetValues(GrpcStatusResponder.MessageHeader, out var text) ? Uri.UnescapeDataString(text.ToString()) : "";
            return (status, message);
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return (StatusCode.Unavailable, e is OperationCanceledException ? $"no answer within {timeout.TotalSeconds:0.#} s" : e.Message);
        }
    }
}
