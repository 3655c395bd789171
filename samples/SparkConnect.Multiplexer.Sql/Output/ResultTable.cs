using System.Text;
using SparkConnect.Multiplexer.Sql.Execution;

namespace SparkConnect.Multiplexer.Sql.Output;

/// <summary>A result laid out as Spark's <c>Dataset.show()</c> lays it out (cells truncated to 20 characters).</summary>
internal static class ResultTable
{
    private const int Truncate = 20;
    private const int MinimumWidth = 3;

    public static string Format(QueryResult result, bool vertical)
    {
        var header = result.Columns;
        var rows = result.Rows.Select(r => r.Select(Cut).ToArray()).ToList();
        var text = vertical ? Vertical(header, rows) : Horizontal(header, rows);
        if (result.RowCount > result.Rows.Count)
        {
            text.Append("only showing top ").Append(result.Rows.Count).Append(result.Rows.Count == 1 ? " row" : " rows").Append('\n');
        }

        return text.ToString();
    }

    private static string Cut(string cell) => cell.Length > Truncate ? cell[..(Truncate - 3)] + "..." : cell;

    private static StringBuilder Horizontal(IReadOnlyList<string> header, List<string[]> rows)
    {
        var widths = header.Select(h => Math.Max(MinimumWidth, h.Length)).ToArray();
        foreach (var row in rows)
        {
            for (var i = 0; i < widths.Length && i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        var text = new StringBuilder();
        var separator = "+" + string.Join("+", widths.Select(w => new string('-', w))) + "+\n";
        void Line(IEnumerable<string> cells) => text.Append('|').AppendJoin('|', cells.Select((c, i) => c.PadLeft(widths[i]))).Append("|\n");
        text.Append(separator);
        Line(header);
        text.Append(separator);
        foreach (var row in rows)
        {
            Line(row);
        }

        return text.Append(separator);
    }

    private static StringBuilder Vertical(IReadOnlyList<string> header, List<string[]> rows)
    {
        var nameWidth = header.Aggregate(MinimumWidth, (max, h) => Math.Max(max, h.Length));
        var dataWidth = rows.Aggregate(MinimumWidth, (max, r) => Math.Max(max, r.Length == 0 ? 0 : r.Max(c => c.Length)));
        var text = new StringBuilder();
        for (var i = 0; i < rows.Count; i++)
        {
            text.Append($"-RECORD {i}".PadRight(nameWidth + dataWidth + 5, '-')).Append('\n');
            for (var j = 0; j < header.Count; j++)
            {
                text.Append(' ').Append(header[j].PadRight(nameWidth)).Append(" | ").Append(rows[i][j].PadRight(dataWidth)).Append(" \n");
            }
        }

        if (rows.Count == 0)
        {
            text.Append("(0 rows)\n");
        }

        return text;
    }
}
