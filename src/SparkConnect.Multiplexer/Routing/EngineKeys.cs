namespace SparkConnect.Multiplexer.Routing;

/// <summary>Chooses the engine key of a new session from its share level, as Kyuubi does.</summary>
internal static class EngineKeys
{
    /// <summary>The owner of SERVER-level engines: there is one for everyone.</summary>
    public const string ServerOwner = "server";

    public static EngineKey For(ShareLevel shareLevel, GatewayPrincipal principal, string sessionId, string subdomain = EngineKey.DefaultSubdomain)
        => shareLevel switch
        {
            ShareLevel.Connection => new EngineKey(shareLevel, sessionId, subdomain),
            ShareLevel.User => new EngineKey(shareLevel, principal.UserName, subdomain),

            // Kyuubi falls back to the user when the principal has no group.
            ShareLevel.Group => new EngineKey(shareLevel, principal.PrimaryGroup ?? principal.UserName, subdomain),
            ShareLevel.Server => new EngineKey(shareLevel, ServerOwner, subdomain),
            _ => throw new ArgumentOutOfRangeException(nameof(shareLevel), shareLevel, "Unknown share level."),
        };
}
