using System.Globalization;
using System.Text;

namespace SparkConnect.Multiplexer.LocalEngine.Formatting;

/// <summary>
/// Lays out rows exactly as Spark's <c>Dataset.showString</c>: a bordered table with right-aligned cells (left
/// aligned when truncation is off), cells cut to <c>truncate</c> characters with "...", a minimum column width of 3,
/// "only showing top N rows" when there were more rows, and the vertical "-RECORD n" layout.
/// </summary>
internal static class ShowStringFormatter
{
    private const int MinimumColumnWidth = 3;

    /// <param name="header">Column names.</param>
    /// <param name="rows">Cell strings of at most <paramref name="numRows"/> rows.</param>
    /// <param name="hasMoreData">Whether the relation had more than <paramref name="numRows"/> rows.</param>
    /// <param name="numRows">The row limit asked for.</param>
    /// <param name="truncate">Cut cells longer than this many characters; 0 keeps them whole.</param>
    /// <param name="vertical">One "-RECORD n" block per row instead of a table.</param>
    public static string Format(IReadOnlyList<string> header, IReadOnlyList<IReadOnlyList<string>> rows, bool hasMoreData, int numRows, int truncate, bool vertical)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(rows);
        var table = new List<string[]> { header.Select(Escape).ToArray() };
        table.AddRange(rows.Select(r => r.Select(c => Cut(Escape(c), truncate)).ToArray()));
        var builder = new StringBuilder();
        var columns = header.Count;

        if (!vertical)
        {
            var widths = Enumerable.Repeat(MinimumColumnWidth, columns).ToArray();
            foreach (var row in table)
            {
                for (var i = 0; i < columns; i++)
                {
                    widths[i] = Math.Max(widths[i], Width(row[i]));
                }
            }

            // Spark joins with "+" between, before and after, so even zero columns give "++".
            var separator = "+" + string.Join('+', widths.Select(w => new string('-', w))) + "+\n";
            builder.Append(separator);
            AppendRow(builder, table[0], widths, truncate);
            builder.Append(separator);
            foreach (var row in table.Skip(1))
            {
                AppendRow(builder, row, widths, truncate);
            }

            builder.Append(separator);
        }
        else
        {
            var nameWidth = table[0].Aggregate(MinimumColumnWidth, (max, name) => Math.Max(max, Width(name)));
            var dataWidth = table.Skip(1).Aggregate(MinimumColumnWidth, (max, row) => Math.Max(max, row.Length == 0 ? 0 : row.Max(Width)));
            for (var r = 1; r < table.Count; r++)
            {
                builder.Append(PadRight("-RECORD " + (r - 1).ToString(CultureInfo.InvariantCulture), nameWidth + dataWidth + 5, '-')).Append('\n');
                var lines = table[r].Select((cell, j) => " " + PadRight(table[0][j], nameWidth, ' ') + " | " + PadRight(cell, dataWidth, ' ') + " ");
                builder.Append(string.Join('\n', lines)).Append('\n');
            }
        }

        if (vertical && rows.Count == 0)
        {
            builder.Append("(0 rows)\n");
        }
        else if (hasMoreData)
        {
            builder.Append(CultureInfo.InvariantCulture, $"only showing top {numRows} {(numRows == 1 ? "row" : "rows")}\n");
        }

        return builder.ToString();
    }

    private static void AppendRow(StringBuilder builder, string[] row, int[] widths, int truncate)
    {
        var cells = row.Select((cell, i) => truncate > 0 ? PadLeft(cell, widths[i]) : PadRight(cell, widths[i], ' '));
        builder.Append('|').Append(string.Join('|', cells)).Append("|\n");
    }

    /// <summary>Spark shows control characters escaped so a cell stays on one line.</summary>
    private static string Escape(string cell) => cell.Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal);

    private static string Cut(string cell, int truncate)
    {
        if (truncate <= 0 || cell.Length <= truncate)
        {
            return cell;
        }

        return truncate < 4 ? cell[..truncate] : cell[..(truncate - 3)] + "...";
    }

    /// <summary>Display width: East Asian wide and full-width characters take two columns, as in Spark.</summary>
    internal static int Width(string text)
    {
        var width = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            width += IsWide(rune.Value) ? 2 : 1;
        }

        return width;
    }

    private static bool IsWide(int c) =>
        (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) || (c >= 0xAC00 && c <= 0xD7A3)
        || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60)
        || (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x20000 && c <= 0x3FFFD);

    private static string PadLeft(string text, int width) => new string(' ', Math.Max(0, width - Width(text))) + text;

    private static string PadRight(string text, int width, char pad) => text + new string(pad, Math.Max(0, width - Width(text)));
}
