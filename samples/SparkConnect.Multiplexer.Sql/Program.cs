using Apache.Arrow;
using Apache.Arrow.Ipc;
using Grpc.Core;
using Grpc.Net.Client;
using Spark.Connect;
using SparkConnect.Multiplexer.Sql;

// A quick-trial SQL client for Spark Connect (like beeline):
//   dotnet run --project samples/SparkConnect.Multiplexer.Sql -- "sc://localhost:15002/;token=T" "SELECT 1"
//   ... -- "sc://..." -f queries.sql
//   ... -- "sc://..."            (interactive: statements end with ';', quit with an empty line or Ctrl+D)
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("Usage: SparkConnect.Multiplexer.Sql <sc://host:port/;token=...;user_id=...> [SQL | -f file] [--max-rows N] [--vertical]");
    return 2;
}

ConnectionString connection;
try
{
    connection = ConnectionString.Parse(args[0]);
}
catch (FormatException error)
{
    Console.Error.WriteLine(error.Message);
    return 2;
}

string? sql = null;
var maxRows = 20;
var vertical = false;
for (var i = 1; i < args.Length; i++)
{
    switch (args[i])
    {
        case "-f" when i + 1 < args.Length:
            sql = await File.ReadAllTextAsync(args[++i]);
            break;
        case "--max-rows" when i + 1 < args.Length:
            maxRows = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
            break;
        case "--vertical":
            vertical = true;
            break;
        default:
            sql = sql is null ? args[i] : sql + " " + args[i];
            break;
    }
}

using var channel = GrpcChannel.ForAddress(connection.Address, new GrpcChannelOptions { MaxReceiveMessageSize = 128 * 1024 * 1024 });
var client = new SqlClient(new SparkConnectService.SparkConnectServiceClient(channel), connection, maxRows, vertical);
if (sql is not null)
{
    foreach (var statement in Statements.Split(sql))
    {
        if (!await client.RunAsync(statement))
        {
            return 1;
        }
    }

    return 0;
}

// Interactive: gather lines until a statement ends with ';'.
var buffer = new System.Text.StringBuilder();
var failed = false;
while (true)
{
    Console.Write(buffer.Length == 0 ? "spark-sql> " : "         > ");
    var line = Console.ReadLine();
    if (line is null || (buffer.Length == 0 && line.Trim().Length == 0) || line.Trim() is "quit" or "exit")
    {
        break;
    }

    buffer.AppendLine(line);
    if (line.TrimEnd().EndsWith(';'))
    {
        foreach (var statement in Statements.Split(buffer.ToString()))
        {
            failed |= !await client.RunAsync(statement);
        }

        buffer.Clear();
    }
}

return failed ? 1 : 0;

/// <summary>Runs statements as a Spark client does: sql_command, then show_string over the returned relation.</summary>
internal sealed class SqlClient(SparkConnectService.SparkConnectServiceClient client, ConnectionString connection, int maxRows, bool vertical)
{
    private Metadata Headers
    {
        get
        {
            var headers = new Metadata { { "user-agent", connection.UserAgent } };
            if (connection.Token is not null)
            {
                headers.Add("authorization", $"Bearer {connection.Token}");
            }

            foreach (var (key, value) in connection.Headers)
            {
                headers.Add(key.ToLowerInvariant(), value);
            }

            return headers;
        }
    }

    private ExecutePlanRequest Request(Plan plan) => new()
    {
        SessionId = connection.SessionId,
        UserContext = new UserContext { UserId = connection.UserId, UserName = connection.UserId },
        ClientType = "SparkConnect.Multiplexer.Sql",
        Plan = plan,
    };

    public async Task<bool> RunAsync(string sql)
    {
        try
        {
            Relation? relation = null;
            var command = new Plan { Command = new Command { SqlCommand = new SqlCommand { Input = new Relation { Sql = new SQL { Query = sql } } } } };
            using (var call = client.ExecutePlan(Request(command), Headers))
            {
                await foreach (var response in call.ResponseStream.ReadAllAsync())
                {
                    relation ??= response.SqlCommandResult?.Relation;
                }
            }

            if (relation is null)
            {
                return true;
            }

            var show = new Plan { Root = new Relation { ShowString = new ShowString { Input = relation, NumRows = maxRows, Truncate = 20, Vertical = vertical } } };
            using var showCall = client.ExecutePlan(Request(show), Headers);
            await foreach (var response in showCall.ResponseStream.ReadAllAsync())
            {
                if (response.ArrowBatch is { RowCount: > 0 } batch)
                {
                    var table = ReadFirstString(batch.Data.Memory);

                    // A command without output (CREATE, INSERT, ...) shows as an empty "++" table; say OK instead.
                    Console.Write(table.StartsWith("++", StringComparison.Ordinal) ? "OK" + Environment.NewLine : table);
                }
            }

            return true;
        }
        catch (RpcException error)
        {
            Console.Error.WriteLine($"Error: {error.StatusCode}: {error.Status.Detail}");
            var details = error.Trailers.GetValueBytes("grpc-status-details-bin");
            if (details is not null)
            {
                foreach (var any in SparkConnect.Multiplexer.Sql.Rpc.Status.Parser.ParseFrom(details).Details)
                {
                    if (any.TryUnpack<SparkConnect.Multiplexer.Sql.Rpc.ErrorInfo>(out var info) && info.Metadata.TryGetValue("errorClass", out var errorClass))
                    {
                        Console.Error.WriteLine($"Error class: {errorClass}" + (info.Metadata.TryGetValue("sqlState", out var state) ? $" (SQLSTATE {state})" : ""));
                    }
                }
            }

            return false;
        }
    }

    private static string ReadFirstString(ReadOnlyMemory<byte> ipc)
    {
        using var reader = new ArrowStreamReader(ipc);
        using var batch = reader.ReadNextRecordBatch();
        return ((StringArray)batch.Column(0)).GetString(0);
    }
}

/// <summary>Splits SQL text into statements at semicolons outside quotes and comments.</summary>
internal static class Statements
{
    public static IEnumerable<string> Split(string text)
    {
        var current = new System.Text.StringBuilder();
        char? quote = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote is null && c == '-' && i + 1 < text.Length && text[i + 1] == '-')
            {
                var end = text.IndexOf('\n', i);
                i = end < 0 ? text.Length : end;
                current.Append('\n');
                continue;
            }

            if (quote is null && c is '\'' or '"' or '`')
            {
                quote = c;
            }
            else if (quote == c)
            {
                quote = null;
            }
            else if (quote is null && c == ';')
            {
                if (current.ToString().Trim().Length > 0)
                {
                    yield return current.ToString().Trim();
                }

                current.Clear();
                continue;
            }

            current.Append(c);
        }

        if (current.ToString().Trim().Length > 0)
        {
            yield return current.ToString().Trim();
        }
    }
}
