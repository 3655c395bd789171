using System.Globalization;

namespace SparkConnect.Multiplexer;

/// <summary>An authenticated user of the gateway.</summary>
public sealed class GatewayPrincipal
{
    /// <summary>Creates a principal.</summary>
    /// <param name="userName">The user name: becomes <c>user_context.user_id</c> and <c>user_name</c> at the engine.</param>
    /// <param name="groups">The user's groups, primary group first.</param>
    /// <param name="attributes">Optional attributes an authenticator wants to pass on to the engine locator.</param>
    public GatewayPrincipal(string userName, IEnumerable<string>? groups = null, IReadOnlyDictionary<string, string>? attributes = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(userName);
        UserName = userName;
        Groups = groups?.Where(g => !string.IsNullOrWhiteSpace(g)).ToArray() ?? [];
        Attributes = attributes ?? new Dictionary<string, string>();
    }

    /// <summary>The user name.</summary>
    public string UserName { get; }

    /// <summary>The user's groups, primary group first; may be empty.</summary>
    public IReadOnlyList<string> Groups { get; }

    /// <summary>The primary group (the first of <see cref="Groups"/>), or <see langword="null"/>.</summary>
    public string? PrimaryGroup => Groups.Count > 0 ? Groups[0] : null;

    /// <summary>Extra attributes from the authenticator (for example claims).</summary>
    public IReadOnlyDictionary<string, string> Attributes { get; }

    /// <summary>The longest user name the gateway takes, in UTF-16 code units.</summary>
    public const int MaxUserNameLength = 256;

    /// <summary>
    /// Whether a user name is plain enough to be one person's only spelling: not empty, at most
    /// <see cref="MaxUserNameLength"/> characters, no leading or trailing white space, and no control, format
    /// (zero-width, bidi), separator other than a plain space, or unpaired surrogate characters. Directories and
    /// identity providers fold many such characters away, which would turn one person into several principals (each
    /// with its own engine, limits and audit trail), and they could forge log lines. The gateway refuses a principal
    /// whose name is not plain, whichever authenticator made it; an authenticator can check a claimed name with this
    /// before it asks its directory.
    /// </summary>
    /// <param name="name">The name to check.</param>
    /// <returns>Whether the name is plain.</returns>
    public static bool IsPlainUserName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxUserNameLength || char.IsWhiteSpace(name[0]) || char.IsWhiteSpace(name[^1]))
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

            if (c != ' ' && CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Control or UnicodeCategory.Format
                or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.SpaceSeparator
                or UnicodeCategory.Surrogate)
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public override string ToString() => UserName;
}
