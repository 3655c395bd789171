using Grpc.Core;

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

    public static GatewayException InvalidArgument(string message) => new(StatusCode.InvalidArgument, message);
}
