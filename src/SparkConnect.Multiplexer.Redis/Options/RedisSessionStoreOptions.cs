namespace SparkConnect.Multiplexer.Redis;

/// <summary>
/// Settings of the Redis session store (<c>AddRedisSessionStore()</c>), bound from the
/// <c>SparkConnectGateway:Redis</c> configuration section and validated at start-up.
/// </summary>
public sealed class RedisSessionStoreOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = SparkConnectGatewayOptions.SectionName + ":Redis";

    /// <summary>
    /// The StackExchange.Redis configuration string, for example <c>redis-1:6379,redis-2:6379,password=...,ssl=true</c>
    /// (https://stackexchange.github.io/StackExchange.Redis/Configuration). Required. The gateway starts while Redis is
    /// out of reach and keeps reconnecting; calls that need the store meanwhile get UNAVAILABLE, which clients retry.
    /// </summary>
    public string? Configuration { get; set; }

    /// <summary>
    /// The prefix of every key, so several gateway deployments can share one Redis. All keys of a deployment carry it
    /// as a hash tag (<c>{prefix}</c>), which keeps them in one slot of a Redis Cluster: claims and removals are
    /// atomic scripts over a session and the session index. Default <c>sparkconnect-gateway</c>.
    /// </summary>
    public string KeyPrefix { get; set; } = "sparkconnect-gateway";

    /// <summary>The Redis database number; default -1, the connection's default database.</summary>
    public int Database { get; set; } = -1;

    /// <summary>
    /// Counts the session limits and call rates of <c>SparkConnectGateway:Limits</c> across every replica sharing this
    /// Redis, instead of in each replica. Default <see langword="false"/>. Costs one Redis round trip per call that a
    /// call rate applies to (a token bucket in Redis) and one per new session while a session limit is set; while Redis
    /// is out of reach each replica falls back to its own counts. Session counts follow the sessions Redis holds,
    /// whichever replica opened or closed them (sessions opened before this was turned on are not counted).
    /// </summary>
    public bool ShareLimits { get; set; }

    /// <summary>
    /// A PEM file of the certificate authorities that sign Redis's TLS certificate, for a Redis whose certificate the
    /// machine does not trust (a private CA); optional, and only with <c>ssl=true</c> in <see cref="Configuration"/>.
    /// The certificate's chain must lead to one of them, and its name must still match the host Redis is reached by.
    /// </summary>
    public string? CertificateAuthorityPath { get; set; }
}
