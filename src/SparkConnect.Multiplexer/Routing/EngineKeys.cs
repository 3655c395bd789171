namespace SparkConnect.Multiplexer.Routing;

/// <summary>Chooses the engine key of a new session from its share level, as Kyuubi does.</summary>
internal static class EngineKeys
{
    /// <summary>The owner of SERVER-level engines: there is one for everyone.</summary>
    public const string ServerOwner = "server";

    public static EngineKey For(ShareLevel shareLevel, GatewayPrincipal principal, string sessionId, string subdomain = EngineKey.DefaultSubdomain)
        => shareLevel switch
        {
            ShareLevel.Connection => new EngineKey { ShareLevel = shareLevel, Owner = sessionId, Subdomain = subdomain },
            ShareLevel.User => new EngineKey { ShareLevel = shareLevel, Owner = principal.UserName, Subdomain = subdomain },

            // Kyuubi falls back to the user when the principal has no group.
            ShareLevel.Group => new EngineKey { ShareLevel = shareLevel, Owner = principal.PrimaryGroup ?? principal.UserName, Subdomain = subdomain },
            ShareLevel.Server => new EngineKey { ShareLevel = shareLevel, Owner = ServerOwner, Subdomain = subdomain },
            _ => throw new ArgumentOutOfRangeException(nameof(shareLevel), shareLevel, "Unknown share level."),
        };
}
