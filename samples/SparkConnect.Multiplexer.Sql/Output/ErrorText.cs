using Grpc.Core;

namespace SparkConnect.Multiplexer.Sql.Output;

/// <summary>A failed call as the user needs it: status, the server's message, and Spark's error class and SQLSTATE.</summary>
internal static class ErrorText
{
    public static string Describe(RpcException error)
    {
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
}
