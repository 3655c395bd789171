using System.Globalization;

namespace SparkConnect.Multiplexer.Sql;

/// <summary>When the progress line is drawn.</summary>
internal enum ProgressMode
{
    /// <summary>When standard error is a terminal.</summary>
    Auto,

    /// <summary>Always (one line per update when standard error is not a terminal).</summary>
    Always,

    /// <summary>Never.</summary>
    Never,
}

/// <summary>The shell's command line.</summary>
internal sealed class ShellOptions
{
    public const string Usage = """
        Usage: SparkConnect.Multiplexer.Sql <sc://host:port/;user_id=...;token=...;use_ssl=true> [SQL | -f FILE] [options]

          SQL                 run these statements and exit (';' separates statements)
          -f, --file FILE     run the statements in FILE and exit
                              (neither: read statements from standard input; on a terminal, an interactive prompt
                              with line editing and history; statements end with ';')
          --token TOKEN       bearer token (overrides token= of the connection string; default $SPARK_CONNECT_TOKEN)
          --tls               connect with TLS (as use_ssl=true)
          --ca FILE           trust the CA certificate(s) in this PEM file for the server's certificate (implies --tls)
          --max-rows N        rows printed per result (default 20; every row is counted)
          --vertical          print each row as a block of column = value lines
          --progress MODE     auto (default: when standard error is a terminal), always or never

        At the prompt: Ctrl+C interrupts the running statement; at an idle prompt it clears the input, and a second
        Ctrl+C in a row leaves, as do Ctrl+D and exit / quit. The session is released on the way out.
        """;

    public required string ConnectionString { get; init; }

    public string? Sql { get; init; }

    public string? File { get; init; }

    public string? Token { get; init; }

    public bool Tls { get; init; }

    public string? CaFile { get; init; }

    public int MaxRows { get; init; } = 20;

    public bool Vertical { get; init; }

    public ProgressMode Progress { get; init; } = ProgressMode.Auto;

    /// <summary>Reads the command line; throws <see cref="FormatException"/> with what to fix.</summary>
    public static ShellOptions Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0)
        {
            throw new FormatException("Give a connection string, for example sc://localhost:15002/;user_id=alice.");
        }

        string? sql = null, file = null, token = null, ca = null;
        var tls = false;
        var vertical = false;
        var maxRows = 20;
        var progress = ProgressMode.Auto;
        for (var i = 1; i < args.Count; i++)
        {
            string Value()
            {
                if (i + 1 >= args.Count)
                {
                    throw new FormatException($"{args[i]} needs a value.");
                }

                return args[++i];
            }

            switch (args[i])
            {
                case "-f" or "--file":
                    file = Value();
                    break;
                case "--token":
                    token = Value();
                    break;
                case "--tls":
                    tls = true;
                    break;
                case "--ca":
                    ca = Value();
                    break;
                case "--max-rows":
                    var rows = Value();
                    if (!int.TryParse(rows, NumberStyles.None, CultureInfo.InvariantCulture, out maxRows) || maxRows < 1)
                    {
                        throw new FormatException($"--max-rows is '{rows}'; give a whole number of 1 or more.");
                    }

                    break;
                case "--vertical":
                    vertical = true;
                    break;
                case "--progress":
                    var mode = Value();
                    if (!Enum.TryParse(mode, ignoreCase: true, out progress) || !Enum.IsDefined(progress))
                    {
                        throw new FormatException($"--progress is '{mode}'; use auto, always or never.");
                    }

                    break;
                case var option when option.StartsWith("--", StringComparison.Ordinal):
                    throw new FormatException($"Unknown option {option}.");
                default:
                    sql = sql is null ? args[i] : sql + " " + args[i];
                    break;
            }
        }

        if (sql is not null && file is not null)
        {
            throw new FormatException("Give SQL or -f FILE, not both.");
        }

        return new ShellOptions
        {
            ConnectionString = args[0],
            Sql = sql,
            File = file,
            Token = token,
            Tls = tls,
            CaFile = ca,
            MaxRows = maxRows,
            Vertical = vertical,
            Progress = progress,
        };
    }
}
