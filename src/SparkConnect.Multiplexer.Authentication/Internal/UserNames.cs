using System.Globalization;
using System.Text;

namespace SparkConnect.Multiplexer.Authentication.Internal;

/// <summary>
/// The plain-name rule for user names a client sends (and, as a check, for names a directory or token gives) — the
/// gateway's own <see cref="GatewayPrincipal.IsPlainUserName"/>, checked here before a directory is asked — and how
/// such names are written to logs.
/// </summary>
internal static class UserNames
{
    /// <summary>The longest user name taken, in UTF-16 code units: the gateway's own.</summary>
    public const int MaxLength = GatewayPrincipal.MaxUserNameLength;

    /// <summary>The gateway's one rule for user names (<see cref="GatewayPrincipal.IsPlainUserName"/>).</summary>
    public static bool IsPlain(string? name) => GatewayPrincipal.IsPlainUserName(name);

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
