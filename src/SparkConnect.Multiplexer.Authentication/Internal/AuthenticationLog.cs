using System.Net;
using Microsoft.Extensions.Logging;

namespace SparkConnect.Multiplexer.Authentication.Internal;

/// <summary>Every log line of this package, with stable event ids. Never pass a password, token or key here.</summary>
internal static partial class AuthenticationLog
{
    [LoggerMessage(1101, LogLevel.Information, "JWT from {Peer} refused: {Reason}")]
    public static partial void JwtRefused(ILogger logger, IPAddress? peer, string reason);

    [LoggerMessage(1102, LogLevel.Information, "Fetched {KeyCount} signing key(s) from {JwksUrl}")]
    public static partial void JwksFetched(ILogger logger, int keyCount, Uri jwksUrl);

    [LoggerMessage(1103, LogLevel.Warning, "Could not fetch signing keys from {JwksUrl}; {CachedKeyCount} cached key(s) stay in use")]
    public static partial void JwksFetchFailed(ILogger logger, Uri jwksUrl, int cachedKeyCount, Exception exception);

    [LoggerMessage(1104, LogLevel.Debug, "Token names unknown key id {KeyId}; the key set was fetched less than {MinimumInterval} ago, so it is not fetched again yet")]
    public static partial void JwksRefreshRateLimited(ILogger logger, string keyId, TimeSpan minimumInterval);

    [LoggerMessage(1105, LogLevel.Information, "JWT authenticated {User}")]
    public static partial void JwtAuthenticated(ILogger logger, string user);

    [LoggerMessage(1106, LogLevel.Error, "The signing key set at {JwksUrl} is too large ({Size} bytes, JwksMaxResponseBytes is {Limit}) and was not used; {CachedKeyCount} cached key(s) stay in use. Check the URL, or raise JwksMaxResponseBytes if the identity provider really publishes that much")]
    public static partial void JwksTooLarge(ILogger logger, Uri jwksUrl, string size, long limit, int cachedKeyCount);

    [LoggerMessage(1111, LogLevel.Information, "LDAP authenticated {User}")]
    public static partial void LdapAuthenticated(ILogger logger, string user);

    [LoggerMessage(1112, LogLevel.Debug, "LDAP bind of {User} answered from the cache")]
    public static partial void LdapCacheHit(ILogger logger, string user);

    [LoggerMessage(1113, LogLevel.Information, "LDAP refused {User} from {Peer}: {Reason}")]
    public static partial void LdapRefused(ILogger logger, string user, IPAddress? peer, string reason);

    [LoggerMessage(1114, LogLevel.Warning, "LDAP server {Server}:{Port} could not be reached (LDAP result {ResultCode})")]
    public static partial void LdapUnreachable(ILogger logger, string server, int port, int resultCode, Exception exception);

    [LoggerMessage(1115, LogLevel.Error, "LDAP server {Server}:{Port} failed an authentication for a reason other than the credential (LDAP result {ResultCode}); check the LDAP options")]
    public static partial void LdapFailed(ILogger logger, string server, int port, int resultCode, Exception exception);

    [LoggerMessage(1116, LogLevel.Warning, "LDAP server {Server}:{Port} refused StartTLS (LDAP result {ResultCode}): give the server a TLS certificate and key, or set Security to Ldaps")]
    public static partial void LdapStartTlsRefused(ILogger logger, string server, int port, int resultCode, Exception exception);

    [LoggerMessage(1117, LogLevel.Warning, "LDAP server {Server}:{Port} could not be reached over TLS ({Security}, LDAP result {ResultCode}): it is down, does not speak that protocol on that port, or its certificate does not chain to a CA in TrustedCertificatesDirectory (else the system's) or does not name the server")]
    public static partial void LdapTlsFailed(ILogger logger, string server, int port, LdapTransportSecurity security, int resultCode, Exception exception);

    [LoggerMessage(1118, LogLevel.Information, "LDAP exchange with {Server}:{Port} ended with LDAP result {ResultCode} (a dropped connection, or a wait interrupted by a signal); trying once more")]
    public static partial void LdapRetrying(ILogger logger, string server, int port, int resultCode, Exception exception);

    [LoggerMessage(1119, LogLevel.Error, "LDAP entry {UserDn} gives no user name from attribute '{Attribute}' (UserNameAttribute): {Problem}. The user is refused")]
    public static partial void LdapNoUserName(ILogger logger, string userDn, string attribute, string problem);

    [LoggerMessage(1121, LogLevel.Information, "Client certificate of {Subject} from {Peer} refused: {Reason}")]
    public static partial void CertificateRefused(ILogger logger, string subject, IPAddress? peer, string reason);

    [LoggerMessage(1122, LogLevel.Debug, "Client certificate authenticated {User}")]
    public static partial void CertificateAuthenticated(ILogger logger, string user);

    [LoggerMessage(1131, LogLevel.Information, "Host authentication scheme {Scheme} refused a call from {Peer}: {Failure}")]
    public static partial void HostSchemeRefused(ILogger logger, string scheme, IPAddress? peer, string failure);

    [LoggerMessage(1132, LogLevel.Warning, "Host authentication scheme {Scheme} threw")]
    public static partial void HostSchemeFailed(ILogger logger, string scheme, Exception exception);

    [LoggerMessage(1133, LogLevel.Warning, "Host authentication accepted a call from {Peer} but none of the claims {Claims} names the user")]
    public static partial void HostSchemeNoUser(ILogger logger, IPAddress? peer, string claims);
}
