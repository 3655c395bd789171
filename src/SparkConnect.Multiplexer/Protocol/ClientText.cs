using System.Globalization;
using System.Text;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>
/// Text a client chose (an id that failed validation, a conf key, a user name in trial mode), made safe to put in an
/// error message or a log line: control and invisible characters are escaped, and length is bounded, so a client
/// cannot forge log lines or flood them.
/// </summary>
internal static class ClientText
{
    public const int DefaultMaxLength = 64;

    /// <summary>The text in single quotes, escaped and shortened.</summary>
    public static string Quote(string? value, int maxLength = DefaultMaxLength) => "'" + Escape(value, maxLength) + "'";

    /// <summary>The text with control, format and separator characters other than a plain space as <c>\uXXXX</c>, cut to <paramref name="maxLength"/>.</summary>
    public static string Escape(string? value, int maxLength = int.MaxValue)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        var truncated = value.Length > maxLength;
        var text = truncated ? value[..maxLength] : value;
        if (!NeedsEscaping(text))
        {
            return truncated ? text + "..." : text;
        }

        var builder = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (IsUnsafe(c))
            {
                builder.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }

        return truncated ? builder.Append("...").ToString() : builder.ToString();
    }

    private static bool NeedsEscaping(string text)
    {
        foreach (var c in text)
        {
            if (IsUnsafe(c))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsUnsafe(char c) => c != ' ' && char.GetUnicodeCategory(c) is
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator
        or UnicodeCategory.ParagraphSeparator or UnicodeCategory.SpaceSeparator;
}
