using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Spark.Connect;

namespace SparkConnect.Multiplexer.TestEngine;

/// <summary>The service type the raw methods bind to; it holds no state.</summary>
internal sealed class RawSparkConnectService
{
}

/// <summary>Binds every method as raw bytes, as a proxy-facing engine must: the test inspects the exact bytes.</summary>
internal sealed class RawSparkConnectMethods : IServiceMethodProvider<RawSparkConnectService>
{
    private const string Service = "spark.connect.SparkConnectService";

    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(static b => b, static b => b);

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<RawSparkConnectService> context)
    {
        foreach (var name in new[] { "AnalyzePlan", "Config", "ArtifactStatus", "Interrupt", "ReleaseExecute", "ReleaseSession", "FetchErrorDetails", "CloneSession", "GetStatus", "FutureRpc" })
        {
            context.AddUnaryMethod(new Method<byte[], byte[]>(MethodType.Unary, Service, name, Raw, Raw), [], (_, request, call) => UnaryAsync(name, request, call));
        }

        foreach (var name in new[] { "ExecutePlan", "ReattachExecute" })
        {
            context.AddServerStreamingMethod(new Method<byte[], byte[]>(MethodType.ServerStreaming, Service, name, Raw, Raw), [], (_, request, writer, call) => StreamAsync(name, request, writer, call));
        }

        context.AddClientStreamingMethod(new Method<byte[], byte[]>(MethodType.ClientStreaming, Service, "AddArtifacts", Raw, Raw), [], (_, requests, call) => ClientStreamAsync(requests, call));
    }

    private static async Task<byte[]> UnaryAsync(string method, byte[] request, ServerCallContext context)
    {
        var engine = Engine(context);
        var call = engine.Record(method, context);
        call.Add(request);
        byte[]? response = null;
        if (engine.Script is { } script)
        {
            await script(call, context, bytes =>
            {
                response ??= bytes;
                return Task.CompletedTask;
            });
        }

        return response ?? DefaultResponses.Unary(method, SessionOf(request), engine.Name);
    }

    private static async Task StreamAsync(string method, byte[] request, IServerStreamWriter<byte[]> writer, ServerCallContext context)
    {
        var engine = Engine(context);
        var call = engine.Record(method, context);
        call.Add(request);
        var wrote = false;
        if (engine.Script is { } script)
        {
            await script(call, context, async bytes =>
            {
                wrote = true;
                await writer.WriteAsync(bytes, context.CancellationToken);
            });
        }

        if (!wrote)
        {
            var operationId = method == "ReattachExecute"
                ? ReattachExecuteRequest.Parser.ParseFrom(request).OperationId
                : ExecutePlanRequest.Parser.ParseFrom(request).OperationId;
            foreach (var response in DefaultResponses.Execution(SessionOf(request), engine.Name, operationId))
            {
                await writer.WriteAsync(response, context.CancellationToken);
            }
        }
    }

    private static async Task<byte[]> ClientStreamAsync(IAsyncStreamReader<byte[]> requests, ServerCallContext context)
    {
        var engine = Engine(context);
        var call = engine.Record("AddArtifacts", context);
        string sessionId = "";
        await foreach (var request in requests.ReadAllAsync(context.CancellationToken))
        {
            call.Add(request);
            sessionId = SessionOf(request);
        }

        byte[]? response = null;
        if (engine.Script is { } script)
        {
            await script(call, context, bytes =>
            {
                response ??= bytes;
                return Task.CompletedTask;
            });
        }

        return response ?? new AddArtifactsResponse { SessionId = sessionId, ServerSideSessionId = engine.Name }.ToByteArray();
    }

    private static RecordingEngine Engine(ServerCallContext context)
        => context.GetHttpContext().RequestServices.GetRequiredService<EngineHolder>().Engine
            ?? throw new InvalidOperationException("The engine is not registered yet.");

    // Every request's field 1 is session_id; read it alone, whatever the message type.
    private static string SessionOf(byte[] request)
    {
        var input = new CodedInputStream(request);
        var sessionId = "";
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (tag == 10)
            {
                sessionId = input.ReadString();
            }
            else
            {
                input.SkipLastField();
            }
        }

        return sessionId;
    }
}

/// <summary>Holds the engine that owns a host, so raw method handlers can find it.</summary>
internal sealed class EngineHolder
{
    public RecordingEngine? Engine { get; set; }
}
