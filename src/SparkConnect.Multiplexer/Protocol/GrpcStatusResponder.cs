using System.Globalization;
using System.Text;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>Writes a status the gateway itself decided: trailers-only when nothing was sent yet, trailers otherwise.</summary>
internal static class GrpcStatusResponder
{
    public const string StatusHeader = "grpc-status";
    public const string MessageHeader = "grpc-message";
    public const string GrpcContentType = "application/grpc";
    public const string StatusDetailsHeader = "grpc-status-details-bin";
    private const string RetryInfoTypeUrl = "type.googleapis.com/google.rpc.RetryInfo";

    /// <param name="response">The call's response.</param>
    /// <param name="statusCode">The status.</param>
    /// <param name="message">The status message.</param>
    /// <param name="statusDetails">A <c>google.rpc.Status</c> for <c>grpc-status-details-bin</c> (see <see cref="StatusDetails"/>), or none.</param>
    public static void Write(HttpResponse response, StatusCode statusCode, string message, byte[]? statusDetails = null)
    {
        var status = ((int)statusCode).ToString(CultureInfo.InvariantCulture);
        var encoded = PercentEncode(message);
        var details = statusDetails is null ? null : Convert.ToBase64String(statusDetails);
        if (!response.HasStarted)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = GrpcContentType;
            response.Headers[StatusHeader] = status;
            response.Headers[MessageHeader] = encoded;
            if (details is not null)
            {
                response.Headers[StatusDetailsHeader] = details;
            }

            return;
        }

        response.AppendTrailer(StatusHeader, status);
        response.AppendTrailer(MessageHeader, encoded);
        if (details is not null)
        {
            response.AppendTrailer(StatusDetailsHeader, details);
        }
    }

    /// <summary>A <c>google.rpc.Status</c> (code 1, message 2, details 3) holding one detail packed as an <c>Any</c>.</summary>
    public static byte[] StatusDetails(StatusCode statusCode, string message, string detailTypeUrl, ProtoWriter detail)
        => new ProtoWriter()
            .Varint(1, (ulong)statusCode)
            .String(2, message)
            .Message(3, new ProtoWriter().String(1, detailTypeUrl).Message(2, detail))
            .ToArray();

    /// <summary>
    /// The status details of a refusal that waiting cures: one <c>google.rpc.RetryInfo</c> (<c>retry_delay = 1</c>, a
    /// Duration of seconds 1 and nanos 2), which Spark clients honour.
    /// </summary>
    public static byte[] RetryInfo(StatusCode statusCode, string message, TimeSpan delay)
    {
        var duration = new ProtoWriter().Varint(1, (ulong)Math.Max(0, (long)delay.TotalSeconds));
        var nanos = (int)(delay.Ticks % TimeSpan.TicksPerSecond * 100);
        if (nanos > 0)
        {
            duration.Varint(2, (ulong)nanos);
        }

        return StatusDetails(statusCode, message, RetryInfoTypeUrl, new ProtoWriter().Message(1, duration));
    }

    /// <summary>The grpc-message encoding of the gRPC HTTP/2 spec: UTF-8, with bytes outside 0x20..0x7E and '%' as %XX.</summary>
    public static string PercentEncode(string message)
    {
        var needsEncoding = false;
        foreach (var c in message)
        {
            if (c < 0x20 || c > 0x7E || c == '%')
            {
                needsEncoding = true;
                break;
            }
        }

        if (!needsEncoding)
        {
            return message;
        }

        var builder = new StringBuilder(message.Length + 16);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b < 0x20 || b > 0x7E || b == '%')
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append((char)b);
            }
        }

        return builder.ToString();
    }

    /// <summary>The canonical name of a gRPC status (UNAVAILABLE, PERMISSION_DENIED, ...).</summary>
    public static string Name(StatusCode status) => status switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "CANCELLED",
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Aborted => "ABORTED",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.Internal => "INTERNAL",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.DataLoss => "DATA_LOSS",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    };
}
