using System.Text;
using System.Text.RegularExpressions;

namespace SparkConnect.Multiplexer;

/// <summary>
/// The one rule that masks secrets in text the gateway did not write itself but shows to someone: engine command
/// lines (in its log), engine log tails and launch failures (in its log and in clients' error messages). Values whose
/// key matches one of the key patterns are replaced by <see cref="Mask"/> in these forms: <c>k=v</c> (so
/// <c>--conf k=v</c>, <c>-Dk=v</c>, <c>K=v</c> environment assignments and <c>?k=v&amp;</c> queries), <c>k: v</c>,
/// JSON-ish <c>"k": "v"</c>, and <c>--k v</c>; so are <c>Bearer</c>/<c>Basic</c> credentials and the password of a
/// <c>scheme://user:password@host</c> URL; and the exact secrets given to <see cref="Redact(string?, string?)"/> (the
/// engine's own token) wherever they appear.
/// </summary>
/// <remarks>
/// A key pattern is a key name with <c>*</c> standing for any characters, matched case-insensitively against the
/// whole key (<c>*secret*</c> matches <c>spark.hadoop.fs.s3a.secret.key</c> and <c>-DSECRET_ID</c>). Unquoted values
/// end at white space, a quote or <c>&amp;</c>: a value with spaces in it is masked up to its first space, unless quoted.
/// </remarks>
public sealed partial class SecretRedactor
{
    /// <summary>What a secret is replaced with.</summary>
    public const string Mask = "***";

    private readonly Regex _sensitiveKey;

    /// <summary>Creates a redactor for the given key patterns (see <see cref="IsValidPattern"/>).</summary>
    public SecretRedactor(IEnumerable<string> keyPatterns)
    {
        ArgumentNullException.ThrowIfNull(keyPatterns);
        var alternatives = keyPatterns
            .Where(p => !string.IsNullOrWhiteSpace(p))
            .Select(p => Regex.Escape(p.Trim()).Replace(@"\*", ".*", StringComparison.Ordinal))
            .ToList();

        // No pattern: no key is sensitive (the exact secrets and bearer credentials are still masked).
        _sensitiveKey = new Regex(
            alternatives.Count == 0 ? "(?!)" : "^(?:" + string.Join('|', alternatives) + ")$",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Singleline,
            TimeSpan.FromSeconds(1));
    }

    /// <summary>The default key patterns: <c>*key*</c>, <c>*token*</c>, <c>*secret*</c>, <c>*password*</c>, <c>*credential*</c>.</summary>
    public static IReadOnlyList<string> DefaultKeyPatterns { get; } = ["*key*", "*token*", "*secret*", "*password*", "*credential*"];

    /// <summary>A redactor with <see cref="DefaultKeyPatterns"/>.</summary>
    public static SecretRedactor Default { get; } = new(DefaultKeyPatterns);

    /// <summary>
    /// Whether <paramref name="pattern"/> is a usable key pattern: non-empty, of ASCII letters, digits, <c>.</c>,
    /// <c>-</c>, <c>_</c> and <c>*</c>, and not only <c>*</c>.
    /// </summary>
    public static bool IsValidPattern(string? pattern)
        => !string.IsNullOrEmpty(pattern)
            && pattern.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or '*')
            && pattern.Any(c => c != '*');

    /// <summary>Whether values of <paramref name="key"/> are masked (leading dashes and a <c>-D</c> are ignored).</summary>
    public bool IsSensitiveKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var name = key.TrimStart('-');
        if (key.StartsWith("-D", StringComparison.Ordinal) && name.Length > 1)
        {
            name = name[1..];
        }

        return _sensitiveKey.IsMatch(name) || _sensitiveKey.IsMatch(key);
    }

    /// <summary>
    /// <paramref name="text"/> with <paramref name="secret"/> (when given) masked wherever it appears, then every
    /// value of a sensitive key, bearer credential and URL password masked.
    /// </summary>
    public string Redact(string? text, string? secret = null)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? "";
        }

        if (!string.IsNullOrEmpty(secret))
        {
            text = text.Replace(secret, Mask, StringComparison.Ordinal);
        }

        try
        {
            return RedactKeyed(text);
        }
        catch (RegexMatchTimeoutException)
        {
            // Fail closed: text that cannot be scanned in time is not shown.
            return $"({text.Length} characters not shown: they could not be checked for secrets in time)";
        }
    }

    private string RedactKeyed(string text)
    {
        StringBuilder? result = null;
        var copied = 0;
        var position = 0;
        var scanner = Scanner();
        while (position < text.Length)
        {
            var match = scanner.Match(text, position);
            if (!match.Success)
            {
                break;
            }

            var valueStart = match.Index + match.Length;
            var sensitive = match.Groups["scheme"].Success
                || match.Groups["userinfo"].Success
                || (match.Groups["key"].Success && IsSensitiveKey(match.Groups["key"].Value))
                || (match.Groups["flag"].Success && IsSensitiveKey(match.Groups["flag"].Value));
            var valueEnd = !sensitive ? valueStart
                : match.Groups["userinfo"].Success ? UserInfoEnd(text, valueStart)
                : ValueEnd(text, valueStart);
            if (valueEnd == valueStart)
            {
                // Scanning goes on from the separator, so a '://' right after a key (jdbc:postgresql://u:p@h) is seen.
                var separator = match.Groups["sep"];
                position = Math.Max(separator.Success ? separator.Index : valueStart, match.Index + 1);
                continue;
            }

            result ??= new StringBuilder(text.Length);
            result.Append(text, copied, valueStart - copied);
            var quote = text[valueStart];
            result.Append(quote is '"' or '\'' ? quote + Mask + quote : Mask);
            copied = position = valueEnd;
        }

        return result is null ? text : result.Append(text, copied, text.Length - copied).ToString();
    }

    /// <summary>
    /// The arguments of a command line, each redacted; the argument after a sensitive flag without a value
    /// (<c>--password</c> <c>x</c>) is masked whole.
    /// </summary>
    public IEnumerable<string> RedactArguments(IEnumerable<string> arguments, string? secret = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var maskNext = false;
        foreach (var argument in arguments)
        {
            if (maskNext && argument.Length > 0)
            {
                maskNext = false;
                yield return Mask;
                continue;
            }

            maskNext = argument.StartsWith('-') && !argument.Contains('=', StringComparison.Ordinal) && IsSensitiveKey(argument);
            yield return Redact(argument, secret);
        }
    }

    private static int ValueEnd(string text, int start)
    {
        if (start >= text.Length)
        {
            return start;
        }

        var quote = text[start];
        if (quote is '"' or '\'')
        {
            var i = start + 1;
            while (i < text.Length && text[i] != quote)
            {
                i += text[i] == '\\' ? 2 : 1;
            }

            // An unclosed quote masks the rest of the line.
            if (i >= text.Length)
            {
                var newline = text.IndexOfAny(['\r', '\n'], start);
                return newline < 0 ? text.Length : newline;
            }

            return i + 1;
        }

        var end = start;
        while (end < text.Length && !char.IsWhiteSpace(text[end]) && text[end] is not ('"' or '\'' or '&'))
        {
            end++;
        }

        return end;
    }

    private static int UserInfoEnd(string text, int start)
    {
        var end = start;
        while (end < text.Length && !char.IsWhiteSpace(text[end]) && text[end] is not ('@' or '/'))
        {
            end++;
        }

        return end < text.Length && text[end] == '@' ? end : start;
    }

    // key=v / key: v / "key": "v" (the key must not continue a word), --flag v, Bearer v / Basic v,
    // scheme://user:password@.
    [GeneratedRegex(
        """(?<![\w.\-])(?:(?<q>["']?)(?<key>[\w.\-]+)\k<q>[ \t]*(?<sep>[=:])[ \t]*|(?<flag>--?[A-Za-z][\w.\-]*)[ \t]+(?=[^\s\-])|\b(?<scheme>Bearer|Basic)[ \t]+)|(?<userinfo>://[^/\s:@]+:)""",
        RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture,
        matchTimeoutMilliseconds: 1000)]
    private static partial Regex Scanner();
}
