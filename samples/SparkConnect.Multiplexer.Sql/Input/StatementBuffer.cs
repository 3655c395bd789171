using System.Text;

namespace SparkConnect.Multiplexer.Sql.Input;

/// <summary>
/// Gathers input until statements end with <c>;</c>, reading SQL as Spark's parser does: semicolons inside
/// '...', "..." (backslash escapes) and `...` literals, <c>--</c> line comments and <c>/* */</c> block comments
/// (hints, <c>/*+ ... */</c>, stay in the statement) do not end a statement.
/// </summary>
internal sealed class StatementBuffer
{
    private readonly StringBuilder _pending = new();

    /// <summary>Whether no input is waiting for a <c>;</c>.</summary>
    public bool IsEmpty => _pending.ToString().Trim().Length == 0;

    /// <summary>Adds text (a line, a file) and returns the statements it completed.</summary>
    public IReadOnlyList<string> Add(string text)
    {
        _pending.Append(text);
        var all = _pending.ToString();
        var statements = Scan(all, out var rest);
        _pending.Clear().Append(all, rest, all.Length - rest);
        return statements;
    }

    /// <summary>At the end of the input: the statement still waiting for its <c>;</c>, if any.</summary>
    public string? TakeRest()
    {
        var rest = Clean(_pending.ToString());
        _pending.Clear();
        return rest;
    }

    public void Clear() => _pending.Clear();

    /// <summary>Splits a whole text (an argument, a file) into its statements, the last one's <c>;</c> optional.</summary>
    public static IReadOnlyList<string> Split(string text)
    {
        var statements = new List<string>(Scan(text, out var rest));
        if (Clean(text[rest..]) is { } last)
        {
            statements.Add(last);
        }

        return statements;
    }

    // The complete statements in text, and where the unfinished rest starts.
    private static List<string> Scan(string text, out int rest)
    {
        var statements = new List<string>();
        var start = 0;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            var next = i + 1 < text.Length ? text[i + 1] : '\0';
            if (c == '-' && next == '-')
            {
                var end = text.IndexOf('\n', i);
                i = end < 0 ? text.Length : end + 1;
            }
            else if (c == '/' && next == '*')
            {
                var end = text.IndexOf("*/", i + 2, StringComparison.Ordinal);
                if (end < 0)
                {
                    break;
                }

                i = end + 2;
            }
            else if (c is '\'' or '"' or '`')
            {
                var end = EndOfQuoted(text, i);
                if (end < 0)
                {
                    break;
                }

                i = end + 1;
            }
            else if (c == ';')
            {
                if (Clean(text[start..i]) is { } statement)
                {
                    statements.Add(statement);
                }

                start = ++i;
            }
            else
            {
                i++;
            }
        }

        rest = start;
        return statements;
    }

    // Index of the closing quote, or -1 while the literal is still open.
    private static int EndOfQuoted(string text, int open)
    {
        var quote = text[open];
        for (var i = open + 1; i < text.Length; i++)
        {
            if (text[i] == '\\' && quote != '`')
            {
                i++;
            }
            else if (text[i] == quote)
            {
                return i;
            }
        }

        return -1;
    }

    // The statement without line comments and surrounding white space; null when nothing but comments remains.
    private static string? Clean(string statement)
    {
        var text = new StringBuilder();
        var significant = false;
        var i = 0;
        while (i < statement.Length)
        {
            var c = statement[i];
            var next = i + 1 < statement.Length ? statement[i + 1] : '\0';
            if (c == '-' && next == '-')
            {
                var end = statement.IndexOf('\n', i);
                i = end < 0 ? statement.Length : end;
            }
            else if (c == '/' && next == '*')
            {
                var end = statement.IndexOf("*/", i + 2, StringComparison.Ordinal);
                var stop = end < 0 ? statement.Length : end + 2;
                text.Append(statement, i, stop - i);
                i = stop;
            }
            else if (c is '\'' or '"' or '`')
            {
                var end = EndOfQuoted(statement, i);
                var stop = end < 0 ? statement.Length : end + 1;
                text.Append(statement, i, stop - i);
                significant = true;
                i = stop;
            }
            else
            {
                significant |= !char.IsWhiteSpace(c);
                text.Append(c);
                i++;
            }
        }

        return significant ? text.ToString().Trim() : null;
    }
}
