using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace SparkConnect.Multiplexer.Configuration;

/// <summary>Configured name patterns where <c>*</c> matches any text; case-insensitive, whole-name.</summary>
internal static class KeyPattern
{
    // Patterns come from configuration, so there are few of them; each is compiled once, not once per check.
    private static readonly ConcurrentDictionary<string, Regex> Compiled = new(StringComparer.Ordinal);

    /// <summary>True when any pattern matches; an empty list matches everything when <paramref name="emptyMatchesAll"/>.</summary>
    public static bool AnyMatches(IEnumerable<string> patterns, string value, bool emptyMatchesAll)
    {
        var any = false;
        foreach (var pattern in patterns)
        {
            any = true;
            if (pattern == "*" || Compiled.GetOrAdd(pattern, Compile).IsMatch(value))
            {
                return true;
            }
        }

        return !any && emptyMatchesAll;
    }

    private static Regex Compile(string pattern)
        => new("^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal) + "$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
}
