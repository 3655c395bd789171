using System.Globalization;
using System.Text;

namespace SparkConnect.Multiplexer.LocalEngine;

/// <summary>Quoting for the SQL text the engine writes for DuckDB.</summary>
internal static class SqlText
{
    /// <summary>A DuckDB identifier in double quotes, so any column name survives.</summary>
    public static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>A string literal in single quotes.</summary>
    public static string QuoteString(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>A blob literal: DuckDB reads <c>'\xAB'::BLOB</c>.</summary>
    public static string QuoteBlob(ReadOnlySpan<byte> value)
    {
        var builder = new StringBuilder("'");
        foreach (var b in value)
        {
            builder.Append(CultureInfo.InvariantCulture, $"\\x{b:X2}");
        }

        return builder.Append("'::BLOB").ToString();
    }

    /// <summary>
    /// Splits a Spark multi-part identifier (<c>a.b</c>, <c>`a.b`.c</c>) into its parts: backticks quote, a
    /// doubled backtick is a literal one.
    /// </summary>
    public static IReadOnlyList<string> SplitIdentifier(string identifier)
    {
        var parts = new List<string>();
        var current = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < identifier.Length; i++)
        {
            var c = identifier[i];
            if (c == '`')
            {
                if (quoted && i + 1 < identifier.Length && identifier[i + 1] == '`')
                {
                    current.Append('`');
                    i++;
                }
                else
                {
                    quoted = !quoted;
                }
            }
            else if (c == '.' && !quoted)
            {
                parts.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        parts.Add(current.ToString());
        return parts;
    }

    /// <summary>A Spark identifier rewritten for DuckDB: every part double-quoted.</summary>
    public static string Identifier(string sparkIdentifier)
        => string.Join('.', SplitIdentifier(sparkIdentifier).Select(QuoteIdentifier));
}
