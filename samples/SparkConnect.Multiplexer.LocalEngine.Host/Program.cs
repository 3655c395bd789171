using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using SparkConnect.Multiplexer.LocalEngine;

// Serves one local Spark Connect engine (DuckDB behind Spark Connect) until Ctrl+C.
//   dotnet run --project samples/SparkConnect.Multiplexer.LocalEngine.Host -- --port 15003 [--database file.duckdb]
//     [--data-directory dir] [--host 0.0.0.0 --token T]   (or the token in SPARK_CONNECT_AUTHENTICATE_TOKEN)
// Beyond loopback the engine needs a token: every call must carry "authorization: Bearer T".
const string Usage = "Usage: --port <port> [--host <address>] [--token <token>] [--database <file>] [--data-directory <dir>] [--spark-version <x.y.z>]; the token may come from SPARK_CONNECT_AUTHENTICATE_TOKEN instead.";
var listen = new LocalEngineListenOptions { Port = 15003, AccessToken = Environment.GetEnvironmentVariable("SPARK_CONNECT_AUTHENTICATE_TOKEN") is { Length: > 0 } fromEnvironment ? fromEnvironment : null };
var options = new LocalEngineOptions();
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--port" when i + 1 < args.Length:
            listen.Port = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--host" when i + 1 < args.Length:
            if (!IPAddress.TryParse(args[++i], out var address))
            {
                Console.Error.WriteLine($"'{args[i]}' is not an IP address. {Usage}");
                return 2;
            }

            listen.Address = address;
            break;
        case "--token" when i + 1 < args.Length:
            listen.AccessToken = args[++i];
            break;
        case "--data-directory" when i + 1 < args.Length:
            options.DataDirectory = args[++i];
            break;
        case "--database" when i + 1 < args.Length:
            options.DatabasePath = args[++i];
            break;
        case "--spark-version" when i + 1 < args.Length:
            options.SparkVersion = args[++i];
            break;
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. {Usage}");
            return 2;
    }
}

// Refused before anything listens: the messages say how to fix it (and never show the token).
var problems = options.Validate().Concat(listen.Validate()).ToList();
if (problems.Count > 0)
{
    Console.Error.WriteLine("The local engine was not started:" + Environment.NewLine + string.Join(Environment.NewLine, problems));
    return 2;
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

await using var engine = await LocalSparkConnectEngine.StartAsync(options, listen, loggerFactory, stop.Token);
Console.WriteLine($"Local Spark Connect engine listening on {engine.Address} ({(listen.AccessToken is null ? "no credential: loopback only" : "every call needs the access token")}). Press Ctrl+C to stop.");
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
    // Ctrl+C: fall through to dispose the engine.
}

return 0;
