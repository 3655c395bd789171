namespace SparkConnect.Multiplexer;

/// <summary>
/// How widely one engine is shared, as in Apache Kyuubi. Spark runs every query as the driver's user, so sharing an
/// engine between users shares their data access: <see cref="User"/> is the default.
/// </summary>
public enum ShareLevel
{
    /// <summary>One engine per Spark Connect session.</summary>
    Connection,

    /// <summary>One engine per user (the default).</summary>
    User,

    /// <summary>One engine per primary group; must be enabled explicitly.</summary>
    Group,

    /// <summary>One engine for everyone; must be enabled explicitly.</summary>
    Server,
}
