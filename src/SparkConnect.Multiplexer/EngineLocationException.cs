using Grpc.Core;

namespace SparkConnect.Multiplexer;

/// <summary>
/// Thrown by an <see cref="IEngineLocator"/> that cannot provide an engine. The message reaches the client.
/// Use <see cref="StatusCode.Unavailable"/> only for conditions a retry can fix (an engine starting or lost):
/// Spark Connect clients retry it many times. Refusals use <see cref="StatusCode.PermissionDenied"/>,
/// <see cref="StatusCode.ResourceExhausted"/> or <see cref="StatusCode.FailedPrecondition"/>.
/// </summary>
public sealed class EngineLocationException : Exception
{
    /// <summary>
    /// Creates the exception with the status the client receives. There is no default: <see cref="StatusCode.Unavailable"/>
    /// makes Spark clients retry for minutes, right for "starting" or "lost" and wrong for "no" — say which it is.
    /// </summary>
    public EngineLocationException(string message, StatusCode statusCode, Exception? innerException = null)
        : base(message, innerException)
    {
        if (statusCode == StatusCode.OK)
        {
            throw new ArgumentOutOfRangeException(nameof(statusCode), "An engine location failure cannot have status OK.");
        }

        StatusCode = statusCode;
    }

    /// <summary>The gRPC status the client receives.</summary>
    public StatusCode StatusCode { get; }

    /// <summary>
    /// For a failure that waiting cures (an engine still starting): how long the client should wait, sent as
    /// <c>google.rpc.RetryInfo</c>, which Spark clients honour instead of their own backoff. Leave unset for refusals.
    /// </summary>
    public TimeSpan? RetryAfter { get; init; }
}
