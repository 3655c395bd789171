namespace SparkConnect.Multiplexer.Authentication;

/// <summary>
/// LDAP password authentication (configuration section <c>SparkConnectGateway:Authentication:Ldap</c>). The
/// credential is a user name and password: from a Spark Connect client, <c>user_id</c> and <c>token</c> of the
/// connection string (<c>sc://host:15002/;use_ssl=true;user_id=alice;token=PASSWORD</c>); from other clients, an
/// <c>authorization: Basic</c> header. The gateway binds to the directory as the user; either
/// <see cref="UserDnTemplate"/> or <see cref="UserSearchBase"/> must be set.
/// </summary>
public sealed class LdapAuthenticationOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "SparkConnectGateway:Authentication:Ldap";

    /// <summary>The directory server's host name or IP address. Required.</summary>
    public string Server { get; set; } = "";

    /// <summary>The server's port; 0 (the default) means 389, or 636 with <see cref="LdapTransportSecurity.Ldaps"/>.</summary>
    public int Port { get; set; }

    /// <summary>How the connection is protected. Default <see cref="LdapTransportSecurity.StartTls"/>.</summary>
    public LdapTransportSecurity Security { get; set; } = LdapTransportSecurity.StartTls;

    /// <summary>
    /// A directory of trusted CA certificates (PEM) used to check the server's certificate with StartTLS or LDAPS on
    /// Linux and macOS; when set, its CAs are the only ones trusted. A libldap built with GnuTLS (Debian, Ubuntu)
    /// reads every file in it; one built with OpenSSL (RHEL, Alpine) finds them by hashed name, as
    /// <c>openssl rehash</c> makes them. Default: libldap's trust (<c>TLS_CACERT</c> of <c>ldap.conf</c>, or the
    /// <c>LDAPTLS_CACERT</c> environment variable). Not used on Windows, which checks against the Windows store.
    /// </summary>
    public string? TrustedCertificatesDirectory { get; set; }

    /// <summary>
    /// Direct bind: the user's DN with <c>{0}</c> for the user name (escaped per RFC 4514), for example
    /// <c>uid={0},ou=people,dc=example,dc=org</c>.
    /// </summary>
    public string? UserDnTemplate { get; set; }

    /// <summary>Search-then-bind: where users are searched (subtree), for example <c>ou=people,dc=example,dc=org</c>.</summary>
    public string? UserSearchBase { get; set; }

    /// <summary>Search-then-bind: the filter with <c>{0}</c> for the user name (escaped per RFC 4515). Default <c>(uid={0})</c>.</summary>
    public string UserSearchFilter { get; set; } = "(uid={0})";

    /// <summary>
    /// The attribute of the user's entry whose value becomes the gateway user name. Default <c>uid</c>. The value is
    /// read from the entry the bind succeeded for (with <see cref="UserDnTemplate"/>, as the user, who needs read
    /// access to their own entry; with <see cref="UserSearchBase"/>, from the search), never taken from what the
    /// client typed: a directory matches names loosely (<c>ALICE</c>, full-width <c>ａlice</c> and <c>alice </c> all
    /// find alice), and each spelling must not become a user of its own, with its own engine and limits. The
    /// attribute must have exactly one value per user (<c>sAMAccountName</c> on Active Directory); an entry
    /// without one is refused and logged (event 119). Empty: the name the client sent (after the plain-name check),
    /// which is safe only when the directory matches names exactly.
    /// </summary>
    public string? UserNameAttribute { get; set; } = "uid";

    /// <summary>The DN the gateway binds as to search for users and groups; empty for an anonymous search.</summary>
    public string? ServiceAccountDn { get; set; }

    /// <summary>The password of <see cref="ServiceAccountDn"/>.</summary>
    public string? ServiceAccountPassword { get; set; }

    /// <summary>Where groups are searched (subtree); empty (the default) for no group lookup.</summary>
    public string? GroupSearchBase { get; set; }

    /// <summary>
    /// The group filter: <c>{0}</c> is the user's DN and <c>{1}</c> the user name (both escaped per RFC 4515).
    /// Default <c>(member={0})</c>; for posixGroup use <c>(memberUid={1})</c>.
    /// </summary>
    public string GroupSearchFilter { get; set; } = "(member={0})";

    /// <summary>The attribute of a group entry that is the group's name. Default <c>cn</c>.</summary>
    public string GroupNameAttribute { get; set; } = "cn";

    /// <summary>How long one LDAP operation may take before the directory counts as unreachable. Default 10 seconds.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a successful bind is remembered, so not every call binds; keyed by a salted hash of user and
    /// password, never the password. Default 5 minutes; zero turns the cache off.
    /// </summary>
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Whether <c>user_id</c> + bearer token (the Spark Connect connection string) is taken as user and password. Default <see langword="true"/>.</summary>
    public bool AcceptBearerTokenAsPassword { get; set; } = true;

    /// <summary>Whether <c>authorization: Basic</c> is accepted. Default <see langword="true"/>.</summary>
    public bool AcceptBasicAuthentication { get; set; } = true;
}

/// <summary>How the connection to the directory is protected.</summary>
public enum LdapTransportSecurity
{
    /// <summary>Cleartext LDAP: passwords cross the network readable. Only for loopback or tests.</summary>
    None,

    /// <summary>LDAP with the StartTLS extended operation (port 389).</summary>
    StartTls,

    /// <summary>LDAP over TLS (port 636).</summary>
    Ldaps,
}
