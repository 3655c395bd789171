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

    /// <inheritdoc />
    public override string ToString() => UserName;
}
