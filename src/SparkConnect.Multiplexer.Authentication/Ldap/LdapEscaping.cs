using System.Globalization;
using System.Text;

namespace SparkConnect.Multiplexer.Authentication.Ldap;

/// <summary>Escaping of user input put into a DN (RFC 4514) or a search filter (RFC 4515).</summary>
internal static class LdapEscaping
{
    /// <summary>Escapes an attribute value of a distinguished name (RFC 4514 section 2.4).</summary>
    public static string EscapeDnValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var builder = new StringBuilder(value.Length + 8);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            switch (c)
            {
                case '"' or '+' or ',' or ';' or '<' or '>' or '\\' or '=':
                    builder.Append('\\').Append(c);
                    break;
                case '#' when i == 0:
                case ' ' when i == 0 || i == value.Length - 1:
                    builder.Append('\\').Append(c);
                    break;
                case < ' ' or '\u007f':
                    builder.Append('\\').Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    break;
                default:
                    builder.Append(c);
                    break;
            }
        }

        return builder.ToString();
    }

    /// <summary>Escapes an assertion value of a search filter (RFC 4515 section 3).</summary>
    public static string EscapeFilterValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var builder = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            switch (c)
            {
                case '*':
                    builder.Append("\\2a");
                    break;
                case '(':
                    builder.Append("\\28");
                    break;
                case ')':
                    builder.Append("\\29");
                    break;
                case '\\':
                    builder.Append("\\5c");
                    break;
                case '\0':
                    builder.Append("\\00");
                    break;
                default:
                    builder.Append(c);
                    break;
            }
        }

        return builder.ToString();
    }
}
