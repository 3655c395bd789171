namespace SparkConnect.Multiplexer;

/// <summary>Identifies which engine a session belongs on: share level, owner and subdomain.</summary>
/// <remarks>
/// Built with an object initializer (<c>new EngineKey { ShareLevel = ShareLevel.User, Owner = "alice" }</c>) rather
/// than a positional constructor, so a member added later does not break callers. Keys compare by value (every
/// member), so they serve as dictionary keys; <see cref="ToString"/> gives the stable form
/// <c>SHARELEVEL/owner/subdomain</c> used in logs, metrics and engine ids.
/// </remarks>
public sealed record EngineKey
{
    /// <summary>The subdomain used when a client names none.</summary>
    public const string DefaultSubdomain = "default";

    /// <summary>The share level.</summary>
    public required ShareLevel ShareLevel { get; init; }

    /// <summary>The session id, user name, group name or server name, according to <see cref="ShareLevel"/>.</summary>
    public required string Owner { get; init; }

    /// <summary>Separates engines of the same owner (for example <c>default</c>, <c>etl</c>, <c>pool-2</c>); <see cref="DefaultSubdomain"/> unless set.</summary>
    public string Subdomain { get; init; } = DefaultSubdomain;

    /// <inheritdoc />
    public override string ToString() => $"{ShareLevel.ToString().ToUpperInvariant()}/{Owner}/{Subdomain}";
}
