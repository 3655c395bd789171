using Microsoft.Extensions.Logging;

namespace SparkConnect.Multiplexer.Redis.Internal;

/// <summary>Every log line of this package, with stable event ids (2000–2999, docs/logging.md). Never pass a password here.</summary>
internal static partial class RedisLog
{
    [LoggerMessage(2010, LogLevel.Error, "Redis ({EndPoints}) is out of reach ({Reason}): session store calls fail at once with UNAVAILABLE, and the gateway reports NOT_SERVING, until a background probe reaches it again")]
    public static partial void Unreachable(ILogger logger, string endPoints, string reason, Exception? exception);

    [LoggerMessage(2011, LogLevel.Error, "Redis ({EndPoints}) refused the gateway's credentials (authentication failure): check the password (and user) in SparkConnectGateway:Redis:Configuration against the server's requirepass or ACL. Session store calls fail with UNAVAILABLE until it accepts them")]
    public static partial void AuthenticationFailed(ILogger logger, string endPoints, Exception? exception);

    [LoggerMessage(2012, LogLevel.Information, "Redis ({EndPoints}) is reachable again after {Outage}")]
    public static partial void Reachable(ILogger logger, string endPoints, TimeSpan outage);

    [LoggerMessage(2013, LogLevel.Critical, "INCIDENT: the Redis session store (key prefix {KeyPrefix}) lost its state: its epoch changed from {KnownEpoch} to {StoredEpoch} (FLUSHALL, a restart without persistence, or a failover to an empty replica). Every session's owner and engine binding was forgotten; a session's next call claims it afresh for whoever makes it, and if that is not its owner, the owner's own calls are refused with PERMISSION_DENIED. No data crosses users: the claimant is routed by its own identity and engines key sessions by the rewritten user_id. Give Redis persistence (appendonly yes) and replication so this does not recur")]
    public static partial void StateLost(ILogger logger, string keyPrefix, string knownEpoch, string storedEpoch);

    [LoggerMessage(2014, LogLevel.Warning, "Session {SessionId} claimed by {User} from {ClientAddress} {SinceLoss} after the session store lost its state: if this id was in use before, it was another user's, whose calls on it are now refused")]
    public static partial void ClaimedAfterStateLoss(ILogger logger, string sessionId, string user, string clientAddress, TimeSpan sinceLoss);

    [LoggerMessage(2015, LogLevel.Error, "The TLS handshake with Redis ({EndPoints}) failed: {Reason}. If Redis's certificate is issued by a private CA, set SparkConnectGateway:Redis:CertificateAuthorityPath to that CA's PEM file; the certificate must also name the host in SparkConnectGateway:Redis:Configuration. Session store calls fail with UNAVAILABLE until the handshake succeeds")]
    public static partial void TlsFailed(ILogger logger, string endPoints, string reason, Exception? exception);
}
