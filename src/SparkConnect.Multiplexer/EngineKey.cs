namespace SparkConnect.Multiplexer;

/// <summary>Identifies which engine a session belongs on: share level, owner and subdomain.</summary>
/// <param name="ShareLevel">The share level.</param>
/// <param name="Owner">The session id, user name, group name or server name, according to <paramref name="ShareLevel"/>.</param>
/// <param name="Subdomain">Separates engines of the same owner (for example <c>default</c>, <c>etl</c>, <c>pool-2</c>).</param>
public sealed record EngineKey(ShareLevel ShareLevel, string Owner, string Subdomain)
{
    /// <summary>The subdomain used when a client names none.</summary>
    public const string DefaultSubdomain = "default";

    /// <inheritdoc />
    public override string ToString() => $"{ShareLevel.ToString().ToUpperInvariant()}/{Owner}/{Subdomain}";
}
