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

    public static void Write(HttpResponse response, StatusCode statusCode, string message)
    {
        var status = ((int)statusCode).ToString(CultureInfo.InvariantCulture);
        var encoded = PercentEncode(message);
        if (!response.HasStarted)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = GrpcContentType;
            response.Headers[StatusHeader] = status;
            response.Headers[MessageHeader] = encoded;
            return;
        }

        response.AppendTrailer(StatusHeader, status);
        response.AppendTrailer(MessageHeader, encoded);
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
}
