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
}
