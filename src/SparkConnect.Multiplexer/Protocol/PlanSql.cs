using System.Buffers;
using System.Text.RegularExpressions;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>
/// The SQL text an ExecutePlanRequest runs directly — <c>plan = 3 { root = 1 { sql = 10 { query = 1 } } }</c> or
/// <c>plan = 3 { command = 2 { sql_command = 5 { sql = 1 | input = 6 { sql = 10 { query = 1 } } } } }</c> — and the Spark
/// confs its <c>SET key=value</c> / <c>RESET key</c> statements change, so the Config deny-list cannot be sidestepped
/// with <c>spark.sql("SET ...")</c>. Only read when a deny-list is configured.
/// </summary>
internal static partial class PlanSql
{
    private const int PlanField = 3;
    private const int RootField = 1;
    private const int CommandField = 2;
    private const int CompressedOperationField = 3;
    private const int SqlCommandField = 5;
    private const int SqlCommandTextField = 1;
    private const int SqlCommandInputField = 6;
    private const int RelationSqlField = 10;
    private const int SqlQueryField = 1;

    /// <summary>The SQL texts, and whether the plan is compressed (and so cannot be read).</summary>
    public static (List<string> Texts, bool Compressed) Read(ReadOnlySequence<byte> executePlanRequest)
    {
        var texts = new List<string>();
        var compressed = false;
        foreach (var plan in ProtoWire.LengthDelimitedFields(executePlanRequest, PlanField))
        {
            compressed |= ProtoWire.LengthDelimitedFields(plan, CompressedOperationField).Count > 0;
            foreach (var root in ProtoWire.LengthDelimitedFields(plan, RootField))
            {
                AddRelationSql(root, texts);
            }

            foreach (var command in ProtoWire.LengthDelimitedFields(plan, CommandField))
            {
                foreach (var sqlCommand in ProtoWire.LengthDelimitedFields(command, SqlCommandField))
                {
                    texts.AddRange(ProtoWire.LengthDelimitedFields(sqlCommand, SqlCommandTextField).Select(ConfigMessages.String));
                    foreach (var input in ProtoWire.LengthDelimitedFields(sqlCommand, SqlCommandInputField))
                    {
                        AddRelationSql(input, texts);
                    }
                }
            }
        }

        return (texts, compressed);
    }

    /// <summary>The conf keys the statements of <paramref name="sql"/> set or reset.</summary>
    public static IReadOnlyList<string> ChangedConfKeys(string sql)
    {
        var keys = new List<string>();
        var code = Comments().Replace(sql, " ");
        foreach (var statement in code.Split(';'))
        {
            var match = SetOrReset().Match(statement);
            if (match.Success)
            {
                keys.Add(match.Groups["key"].Value);
            }
        }

        return keys;
    }

    private static void AddRelationSql(ReadOnlySequence<byte> relation, List<string> texts)
    {
        foreach (var sql in ProtoWire.LengthDelimitedFields(relation, RelationSqlField))
        {
            texts.AddRange(ProtoWire.LengthDelimitedFields(sql, SqlQueryField).Select(ConfigMessages.String));
        }
    }

    [GeneratedRegex(@"--[^\n]*|/\*.*?\*/", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex Comments();

    // SET key = value (a change; "SET key" alone only reads) and RESET key; keys may be back-quoted.
    [GeneratedRegex(@"^\s*(?:SET\s+`?(?<key>[A-Za-z0-9_.\-]+)`?\s*=|RESET\s+`?(?<key>[A-Za-z0-9_.\-]+)`?)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SetOrReset();
}
