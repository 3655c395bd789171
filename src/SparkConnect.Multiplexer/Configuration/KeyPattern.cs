using System.Text.RegularExpressions;

namespace SparkConnect.Multiplexer.Configuration;

/// <summary>A configured name pattern where <c>*</c> matches any text; case-insensitive, whole-name.</summary>
internal sealed class KeyPattern
{
    private readonly Regex _regex;

    public KeyPattern(string pattern)
    {
        Pattern = pattern;
        _regex = new Regex("^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal) + "$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
    }

    public string Pattern { get; }

    public bool Matches(string value) => _regex.IsMatch(value);

    /// <summary>True when any pattern matches; an empty list matches everything when <paramref name="emptyMatchesAll"/>.</summary>
    public static bool AnyMatches(IEnumerable<string> patterns, string value, bool emptyMatchesAll)
    {
        var any = false;
        foreach (var pattern in patterns)
        {
            any = true;
            if (pattern == "*" || new KeyPattern(pattern).Matches(value))
            {
                return true;
            }
        }

        return !any && emptyMatchesAll;
    }
}
