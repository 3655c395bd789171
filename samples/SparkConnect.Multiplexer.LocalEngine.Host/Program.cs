using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using SparkConnect.Multiplexer.LocalEngine;

// Serves one local Spark Connect engine (DuckDB behind Spark Connect) until Ctrl+C.
//   dotnet run --project samples/SparkConnect.Multiplexer.LocalEngine.Host -- --port 15003 [--database file.duckdb]
var port = 15003;
var options = new LocalEngineOptions();
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--port" when i + 1 < args.Length:
            port = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--database" when i + 1 < args.Length:
            options.DatabasePath = args[++i];
            break;
        case "--spark-version" when i + 1 < args.Length:
            options.SparkVersion = args[++i];
            break;
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: --port <port> [--database <file>] [--spark-version <x.y.z>]");
            return 2;
    }
}

using var loggerFactory = LoggerFactory.Create(logging => logging.AddSimpleConsole(o => o.SingleLine = true).AddFilter("Microsoft.AspNetCore", LogLevel.Warning));
using var stop = new CancellationTokenSource();

// Stop gracefully on Ctrl+C and SIGTERM: let the engine close its database instead of dying mid-write.
void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}

using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

await using var engine = await LocalSparkConnectEngine.StartAsync(options, port, loggerFactory, stop.Token);
Console.WriteLine($"Local Spark Connect engine listening on {engine.Address} (sc://127.0.0.1:{engine.Address.Port}). Press Ctrl+C to stop.");
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
    // Ctrl+C: fall through to dispose the engine.
}

return 0;
