using System.Runtime.InteropServices;
using Spark.Connect;
using SparkConnect.Multiplexer.Sql;
using SparkConnect.Multiplexer.Sql.Connection;
using SparkConnect.Multiplexer.Sql.Execution;
using SparkConnect.Multiplexer.Sql.Input;

// A SQL shell for Spark Connect (like beeline / spark-sql):
//   dotnet run --project samples/SparkConnect.Multiplexer.Sql -- "sc://localhost:15002/;user_id=alice"             (prompt)
//   ... -- "sc://localhost:15002/;user_id=alice" "SELECT 1"      ... -f queries.sql      ... < queries.sql
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine(ShellOptions.Usage);
    return args.Length == 0 ? 2 : 0;
}

ShellOptions options;
ConnectionSettings settings;
string? script;
try
{
    options = ShellOptions.Parse(args);
    settings = ConnectionSettings.Create(options, Environment.GetEnvironmentVariable("SPARK_CONNECT_TOKEN"));
    script = options.Sql ?? (options.File is { } file ? await File.ReadAllTextAsync(file) : null);
}
catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine("See --help.");
    return 2;
}

using var channel = settings.CreateChannel();
var session = new SparkSqlSession(new SparkConnectService.SparkConnectServiceClient(channel), settings);
var progress = options.Progress switch
{
    ProgressMode.Always => Console.Error,
    ProgressMode.Auto when !Console.IsErrorRedirected => Console.Error,
    _ => null,
};
using var shell = new Shell(session, options, Console.Out, Console.Error, progress, progressInPlace: !Console.IsErrorRedirected);

// Ctrl+C belongs to the shell: it interrupts the statement instead of ending the process.
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
{
    context.Cancel = true;
    shell.Interrupt();
});
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    shell.Leave();
});
using var hangUp = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
{
    context.Cancel = true;
    shell.Leave();
});

int exitCode;
if (script is not null)
{
    exitCode = await shell.RunScriptAsync(script);
}
else if (TerminalLineSource.IsSupported)
{
    Console.Error.WriteLine($"Spark Connect at {settings.Address}, user {settings.Connection.UserId}, session {session.SessionId}.");
    Console.Error.WriteLine("Statements end with ';'. Ctrl+C interrupts a statement; Ctrl+D or exit leaves.");
    using var terminal = new TerminalLineSource(HistoryFile());
    exitCode = await shell.RunLinesAsync(terminal, stopOnError: false);
}
else
{
    // Statements from a pipe or a file: no line editing, no prompt, stop at the first failure (as beeline -f does).
    // A terminal that cannot do line editing (TERM=dumb) gets the prompt and carries on after failures.
    var piped = Console.IsInputRedirected;
    using var lines = new StreamLineSource(Console.In, piped ? null : Console.Error);
    exitCode = await shell.RunLinesAsync(lines, stopOnError: piped);
}

await shell.ReleaseAsync();
return exitCode;

// SPARK_CONNECT_SQL_HISTORY names the history file; set empty, it turns history off.
static string? HistoryFile()
    => Environment.GetEnvironmentVariable("SPARK_CONNECT_SQL_HISTORY") is { } configured
        ? configured.Length == 0 ? null : configured
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".sparkconnect_sql_history");
