using System.Globalization;
using System.Text;

namespace SparkConnect.Multiplexer.Authentication.Internal;

/// <summary>
/// The plain-name rule for user names a client sends (and, as a check, for names a directory or token gives): not
/// empty, at most <see cref="MaxLength"/> UTF-16 units, no leading or trailing white space (any Unicode space,
/// no-break and ideographic included), no control, format (zero-width, bidi), line/paragraph separator or unpaired
/// surrogate characters. Such a name is never the canonical spelling of anyone, and directories fold many of these
/// characters away, which would turn one person into several principals.
/// </summary>
internal static class UserNames
{
    /// <summary>The longest user name taken, in UTF-16 code units.</summary>
    public const int MaxLength = 256;

    public static bool IsPlain(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength || char.IsWhiteSpace(name[0]) || char.IsWhiteSpace(name[^1]))
        {
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsHighSurrogate(c) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1]))
            {
                i++;
                continue;
            }

            switch (CharUnicodeInfo.GetUnicodeCategory(c))
            {
                case UnicodeCategory.Control:
                case UnicodeCategory.Format:
                case UnicodeCategory.LineSeparator:
                case UnicodeCategory.ParagraphSeparator:
                case UnicodeCategory.Surrogate:
                    return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The name for a log line: characters <see cref="IsPlain"/> rejects (and a backslash) as <c>\uXXXX</c>, so a
    /// client cannot forge or break lines; cut at <see cref="MaxLength"/> characters.
    /// </summary>
    public static string ForLog(string name)
    {
        if (IsPlain(name) && !name.Contains('\\', StringComparison.Ordinal))
        {
            return name;
        }

        var builder = new StringBuilder(Math.Min(name.Length, MaxLength) + 16);
        for (var i = 0; i < name.Length && i < MaxLength; i++)
        {
            var c = name[i];
            var plain = c != '\\'
                && !((i == 0 || i == name.Length - 1) && char.IsWhiteSpace(c))
                && CharUnicodeInfo.GetUnicodeCategory(c) is not (UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.Surrogate);
            if (plain)
            {
                builder.Append(c);
            }
            else
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
        }

        if (name.Length > MaxLength)
        {
            builder.Append("...");
        }

        return builder.ToString();
    }
}
