using Grpc.Core;
using SparkConnect.Multiplexer.Internal;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>A failure the gateway itself answers with a gRPC status; the message reaches the client.</summary>
internal sealed class GatewayException : Exception
{
    public GatewayException(StatusCode statusCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        StatusCode = statusCode;
    }

    public StatusCode StatusCode { get; }

    /// <summary>
    /// For a refusal that waiting can cure (a limit that frees up, an engine still starting): the delay sent to the
    /// client as <c>google.rpc.RetryInfo</c>, which Spark clients honour by waiting and retrying. Final refusals
    /// (denied, forbidden, session limits) carry none.
    /// </summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>
    /// For a refusal, why, as one of the bounded <see cref="RefusalReasons"/> (a metric tag); when unset
    /// it follows from <see cref="StatusCode"/>. Set where the rule that refused is known.
    /// </summary>
    public string? Refusal { get; set; }

    /// <summary>A <c>google.rpc.Status</c> for <c>grpc-status-details-bin</c> (Spark's ErrorInfo), when the answer carries one.</summary>
    public byte[]? StatusDetails { get; init; }

    public static GatewayException InvalidArgument(string message) => new(StatusCode.InvalidArgument, message);
}
