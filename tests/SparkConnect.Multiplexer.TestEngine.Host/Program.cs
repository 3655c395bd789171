using System.Globalization;
using System.Runtime.InteropServices;
using SparkConnect.Multiplexer.TestEngine;

// Usage: dotnet SparkConnect.Multiplexer.TestEngine.Host.dll --port N [--name NAME]
// Serves a RecordingEngine on 127.0.0.1:N (its responses carry NAME as server_side_session_id) until SIGTERM or SIGINT.
var port = 0;
var name = "test-engine";
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--port" when i + 1 < args.Length:
            port = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--name" when i + 1 < args.Length:
            name = args[++i];
            break;
        default:
            await Console.Error.WriteLineAsync($"unknown argument '{args[i]}'; usage: --port N [--name NAME]");
            return 2;
    }
}

var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true;
    stop.TrySetResult();
}

using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

await using (var engine = await RecordingEngine.StartAsync(name, port))
{
    // Like a Spark 4 server started with SPARK_CONNECT_AUTHENTICATE_TOKEN: every call must present the token.
    if (Environment.GetEnvironmentVariable("SPARK_CONNECT_AUTHENTICATE_TOKEN") is { Length: > 0 } token)
    {
        engine.Script = (call, context, write) => call.Header("authorization") == "Bearer " + token
            ? Task.CompletedTask
            : throw new Grpc.Core.RpcException(new Grpc.Core.Status(Grpc.Core.StatusCode.Unauthenticated, "Invalid authentication token"));
    }

    Console.WriteLine($"test engine {name} listening on {engine.Address}");
    await stop.Task;
    Console.WriteLine($"test engine {name} stopping");
}

return 0;
