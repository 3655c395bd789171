using Grpc.Core;

namespace SparkConnect.Multiplexer.Tests.Infrastructure;

/// <summary>Calls any method with raw bytes, the way a client of a future Spark version would.</summary>
internal static class RawCalls
{
    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(static b => b, static b => b);

    public static Method<byte[], byte[]> Method(string name, MethodType type = MethodType.Unary)
        => new(type, "spark.connect.SparkConnectService", name, Raw, Raw);

    public static Task<byte[]> UnaryAsync(CallInvoker invoker, string name, byte[] request, Metadata headers, DateTime? deadline = null)
        => invoker.AsyncUnaryCall(Method(name), null, new CallOptions(headers, deadline), request).ResponseAsync;
}
