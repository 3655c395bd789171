using System.Security.Authentication;
using Grpc.Core;

namespace SparkConnect.Multiplexer.Sql.Output;

/// <summary>A failed call as the user needs it: status, the server's message, and Spark's error class and SQLSTATE.</summary>
internal static class ErrorText
{
    public static string Describe(RpcException error, Uri address)
    {
        // grpc-dotnet keeps the exception of an error raised on this side (no connection, TLS): say that, and how to fix it.
        if (error.Status.DebugException is { } local)
        {
            var cause = local;
            while (cause.InnerException is not null)
            {
                cause = cause.InnerException;
            }

            var hint = HasInner<AuthenticationException>(local)
                ? " The server's TLS certificate is not trusted for this host name: give its CA with --ca FILE (PEM), or connect with the name the certificate holds."
                : address.Scheme == "http" && error.StatusCode == StatusCode.Internal
                    ? " If the server speaks TLS, add --tls or use_ssl=true."
                    : "";
            return $"Error: cannot talk to {address} ({error.StatusCode}): {cause.Message}{hint}";
        }

        var text = $"Error: {error.StatusCode}: {error.Status.Detail}";
        if (error.Trailers.GetValueBytes("grpc-status-details-bin") is { } details)
        {
            try
            {
                foreach (var any in Rpc.Status.Parser.ParseFrom(details).Details)
                {
                    if (any.TryUnpack<Rpc.ErrorInfo>(out var info) && info.Metadata.TryGetValue("errorClass", out var errorClass))
                    {
                        text += Environment.NewLine + $"Error class: {errorClass}" + (info.Metadata.TryGetValue("sqlState", out var state) ? $" (SQLSTATE {state})" : "");
                    }
                }
            }
            catch (Google.Protobuf.InvalidProtocolBufferException)
            {
                // Details that are not a google.rpc.Status add nothing to the message.
            }
        }

        return text;
    }

    private static bool HasInner<T>(Exception e)
        where T : Exception
    {
        for (var current = e; current is not null; current = current.InnerException)
        {
            if (current is T)
            {
                return true;
            }
        }

        return false;
    }
}
