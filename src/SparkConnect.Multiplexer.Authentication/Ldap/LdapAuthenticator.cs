using System.DirectoryServices.Protocols;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Authentication.Internal;

namespace SparkConnect.Multiplexer.Authentication.Ldap;

/// <summary>
/// Authenticates a user name and password by binding to LDAP as the user (DN template or search-then-bind), then
/// optionally looks up the user's groups. A directory that cannot be reached gives UNAVAILABLE, never an accept.
/// The principal's user name is read from the entry the bind succeeded for (<see cref="LdapAuthenticationOptions.UserNameAttribute"/>),
/// not taken from the client's spelling: directories match names loosely (case, width, spaces), and every spelling
/// the directory accepts for one person must be one principal.
/// </summary>
internal sealed class LdapAuthenticator(IOptions<LdapAuthenticationOptions> options, TimeProvider time, ILogger<LdapAuthenticator> logger) : IAuthenticator
{
    internal const string InvalidCredentials = "invalid user name or password";
    internal const string Unreachable = "authentication service unreachable";
    internal const string NonCanonicalUserName = "invalid user name: at most 256 characters, with no leading or trailing spaces and no control or invisible characters";

    // LDAP result code 49 (RFC 4511); ResultCode has no member for it because binds report it as LdapException.ErrorCode.
    private const int LdapInvalidCredentials = 49;

    // Client-side codes as System.DirectoryServices.Protocols reports them: LDAP_SERVER_DOWN (also a failed LDAPS
    // handshake), LDAP_FILTER_ERROR, LDAP_CONNECT_ERROR (also a failed StartTLS handshake).
    private const int LdapServerDown = 81;
    private const int LdapFilterError = 87;
    private const int LdapConnectError = 91;

    private readonly LdapAuthenticationOptions _options = options.Value;
    private readonly LdapBindCache _cache = new(time);

    public string? CredentialHint => (_options.AcceptBearerTokenAsPassword, _options.AcceptBasicAuthentication) switch
    {
        (true, true) => "add ;user_id=<your user name>;token=<your password> to the sc:// connection string, or send 'authorization: Basic <base64 of user:password>'",
        (true, false) => "add ;user_id=<your user name>;token=<your password> to the sc:// connection string",
        (false, true) => "send 'authorization: Basic <base64 of user:password>'",
        _ => null,
    };

    public async ValueTask<AuthenticationResult> AuthenticateAsync(AuthenticationContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        // The user of a bearer-token-as-password bind is the request's claimed user_id: only then is the body read.
        if (_options.AcceptBearerTokenAsPassword && context.BearerToken is not null)
        {
            await context.ReadClaimedUserIdAsync(cancellationToken);
        }

        if (!TryGetCredentials(context, out var user, out var password))
        {
            return AuthenticationResult.NoResult();
        }

        // An empty password would be an "unauthenticated bind" (RFC 4513 5.1.2), which many servers accept.
        if (user.Length == 0 || password.Length == 0 || password.Contains('\0', StringComparison.Ordinal))
        {
            return Refuse(context, user, InvalidCredentials);
        }

        // Not a spelling anyone's name has; the directory would fold some of it away and match a real user.
        if (!UserNames.IsPlain(user))
        {
            return Refuse(context, user, NonCanonicalUserName);
        }

        if (_cache.TryGet(user, password, out var cached))
        {
            AuthenticationLog.LdapCacheHit(logger, cached.UserName);
            return AuthenticationResult.Success(cached);
        }

        GatewayPrincipal? principal;
        try
        {
            // The native client's own timeouts do not cover every stall (a black-holed connect): bound the whole exchange.
            principal = await Task.Run(() => AuthenticateRetryingOnce(user, password), cancellationToken)
                .WaitAsync(_options.Timeout * 3, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            AuthenticationLog.LdapUnreachable(logger, _options.Server, PortOrDefault, (int)ResultCode.TimeLimitExceeded, e);
            return AuthenticationResult.Unavailable(Unreachable);
        }
        catch (LdapException e) when (e.ErrorCode == LdapInvalidCredentials)
        {
            return Refuse(context, user, InvalidCredentials);
        }
        catch (LdapException e) when (_options.Security != LdapTransportSecurity.None && e.ErrorCode is LdapServerDown or LdapConnectError)
        {
            // libldap reports an untrusted certificate like a server that is down: say both in the log.
            AuthenticationLog.LdapTlsFailed(logger, _options.Server, PortOrDefault, _options.Security, e.ErrorCode, e);
            return AuthenticationResult.Unavailable(Unreachable);
        }
        catch (TlsOperationException e)
        {
            AuthenticationLog.LdapStartTlsRefused(logger, _options.Server, PortOrDefault, (int)(e.Response?.ResultCode ?? ResultCode.Other), e);
            return AuthenticationResult.Unavailable(Unreachable);
        }
        catch (LdapException e)
        {
            AuthenticationLog.LdapUnreachable(logger, _options.Server, PortOrDefault, e.ErrorCode, e);
            return AuthenticationResult.Unavailable(Unreachable);
        }
        catch (DirectoryOperationException e) when (e.Response?.ResultCode is ResultCode.Busy or ResultCode.Unavailable or ResultCode.TimeLimitExceeded or ResultCode.UnwillingToPerform)
        {
            AuthenticationLog.LdapUnreachable(logger, _options.Server, PortOrDefault, (int)e.Response!.ResultCode, e);
            return AuthenticationResult.Unavailable(Unreachable);
        }
        catch (LdapEntryNameException e)
        {
            // The password was right; the entry (or its access rules) is what must be fixed. Refused, not UNAVAILABLE:
            // retrying would not help, and the client must not learn more than from a wrong password.
            AuthenticationLog.LdapNoUserName(logger, e.UserDn, _options.UserNameAttribute ?? "", e.Problem);
            return Refuse(context, user, InvalidCredentials);
        }
        catch (DirectoryException e)
        {
            var code = e is DirectoryOperationException op && op.Response is not null ? (int)op.Response.ResultCode : -1;
            AuthenticationLog.LdapFailed(logger, _options.Server, PortOrDefault, code, e);
            return AuthenticationResult.Unavailable(Unreachable);
        }

        if (principal is null)
        {
            return Refuse(context, user, InvalidCredentials);
        }

        _cache.Add(user, password, principal, _options.CacheDuration);
        AuthenticationLog.LdapAuthenticated(logger, principal.UserName);
        return AuthenticationResult.Success(principal);
    }

    private int PortOrDefault => _options.Port != 0 ? _options.Port : _options.Security == LdapTransportSecurity.Ldaps ? 636 : 389;

    private AuthenticationResult Refuse(AuthenticationContext context, string user, string reason)
    {
        AuthenticationLog.LdapRefused(logger, UserNames.ForLog(user), context.PeerAddress, reason);
        return AuthenticationResult.Refuse(reason);
    }

    private bool TryGetCredentials(AuthenticationContext context, out string user, out string password)
    {
        if (_options.AcceptBasicAuthentication && BasicCredentials.TryRead(context.Headers, out user, out password))
        {
            return true;
        }

        if (_options.AcceptBearerTokenAsPassword && context.ClaimedUserId is { } claimed && context.BearerToken is { } token)
        {
            user = claimed;
            password = token;
            return true;
        }

        user = "";
        password = "";
        return false;
    }

    /// <summary>
    /// One bind exchange, tried a second time on a fresh connection when the first ends with "server down" (81).
    /// libldap reports a wait interrupted by a signal that way — and a gateway gets signals whenever a child process
    /// exits, a launched engine for example — as well as a dropped connection (a restarted server, an idle connection
    /// cut by a firewall). A server that is really down fails the second attempt too. A refused bind (49) is never
    /// repeated; only an interrupted one whose refusal the server had already counted could be counted twice.
    /// </summary>
    private GatewayPrincipal? AuthenticateRetryingOnce(string user, string password)
    {
        try
        {
            return Authenticate(user, password);
        }
        catch (LdapException e) when (e.ErrorCode == LdapServerDown)
        {
            AuthenticationLog.LdapRetrying(logger, _options.Server, PortOrDefault, e.ErrorCode, e);
            return Authenticate(user, password);
        }
    }

    /// <summary>Binds as the user; <see langword="null"/> when search-then-bind finds no single entry for the name.</summary>
    private GatewayPrincipal? Authenticate(string user, string password)
    {
        using var connection = Connect();
        var nameAttribute = string.IsNullOrWhiteSpace(_options.UserNameAttribute) ? null : _options.UserNameAttribute.Trim();
        string userDn;
        string? userName = null;
        SearchResultEntry? entry = null;

        if (!string.IsNullOrWhiteSpace(_options.UserDnTemplate))
        {
            userDn = _options.UserDnTemplate.Replace("{0}", LdapEscaping.EscapeDnValue(user), StringComparison.Ordinal);
        }
        else
        {
            BindServiceAccount(connection);
            var filter = _options.UserSearchFilter.Replace("{0}", LdapEscaping.EscapeFilterValue(user), StringComparison.Ordinal);
            string[] attributes = nameAttribute is null ? ["1.1"] : [nameAttribute];
            var search = new SearchRequest(_options.UserSearchBase, filter, SearchScope.Subtree, attributes) { SizeLimit = 2 };
            SearchResponse response;
            try
            {
                response = (SearchResponse)connection.SendRequest(search, _options.Timeout);
            }
            catch (DirectoryOperationException e) when (e.Response?.ResultCode is ResultCode.SizeLimitExceeded or ResultCode.NoSuchObject)
            {
                return null;
            }

            if (response.Entries.Count != 1)
            {
                return null;
            }

            entry = response.Entries[0];
            userDn = entry.DistinguishedName;
        }

        connection.AuthType = AuthType.Basic;
        connection.Bind(new NetworkCredential(userDn, password));

        if (nameAttribute is not null)
        {
            // Direct bind: the DN was built from the client's spelling; read the entry itself (as the user, who may
            // read their own entry) for its name and its DN as the directory stores it.
            entry ??= ReadOwnEntry(connection, userDn, nameAttribute);
            userDn = entry.DistinguishedName;
            userName = NameOf(entry, nameAttribute);
        }

        var groups = new List<string>();
        if (!string.IsNullOrWhiteSpace(_options.GroupSearchBase))
        {
            if (!string.IsNullOrWhiteSpace(_options.ServiceAccountDn))
            {
                BindServiceAccount(connection);
            }

            var filter = _options.GroupSearchFilter
                .Replace("{0}", LdapEscaping.EscapeFilterValue(userDn), StringComparison.Ordinal)
                .Replace("{1}", LdapEscaping.EscapeFilterValue(userName ?? user), StringComparison.Ordinal);
            var search = new SearchRequest(_options.GroupSearchBase, filter, SearchScope.Subtree, _options.GroupNameAttribute);
            var response = (SearchResponse)connection.SendRequest(search, _options.Timeout);
            foreach (SearchResultEntry group in response.Entries)
            {
                if (group.Attributes[_options.GroupNameAttribute]?.GetValues(typeof(string)) is { } names)
                {
                    groups.AddRange(names.OfType<string>());
                }
            }

            groups.Sort(StringComparer.Ordinal);
        }

        return new GatewayPrincipal(userName ?? user, groups);
    }

    private SearchResultEntry ReadOwnEntry(LdapConnection connection, string userDn, string nameAttribute)
    {
        SearchResponse response;
        try
        {
            response = (SearchResponse)connection.SendRequest(new SearchRequest(userDn, "(objectClass=*)", SearchScope.Base, nameAttribute), _options.Timeout);
        }
        catch (DirectoryOperationException e) when (e.Response?.ResultCode is ResultCode.NoSuchObject or ResultCode.InsufficientAccessRights)
        {
            throw new LdapEntryNameException(userDn, "the user may not read their own entry after binding: grant it read access to its own entry (e.g. 'by self read')");
        }

        if (response.Entries.Count != 1)
        {
            throw new LdapEntryNameException(userDn, "the user may not read their own entry after binding: grant it read access to its own entry (e.g. 'by self read')");
        }

        return response.Entries[0];
    }

    private static string NameOf(SearchResultEntry entry, string nameAttribute)
    {
        var values = entry.Attributes[nameAttribute]?.GetValues(typeof(string)).OfType<string>().Distinct(StringComparer.Ordinal).ToArray() ?? [];
        return values switch
        {
            [] => throw new LdapEntryNameException(entry.DistinguishedName, "the entry has no value the gateway may read: give it one, allow reading it (the user's own entry for UserDnTemplate, the service account for UserSearchBase), or name another attribute"),
            [var name] when UserNames.IsPlain(name) => name,
            [_] => throw new LdapEntryNameException(entry.DistinguishedName, "its value is empty, too long, or has surrounding spaces or control characters"),
            _ => throw new LdapEntryNameException(entry.DistinguishedName, $"it has {values.Length} values, so the user name would be ambiguous: name a single-valued attribute"),
        };
    }

    private LdapConnection Connect()
    {
        var identifier = new LdapDirectoryIdentifier(_options.Server, PortOrDefault, fullyQualifiedDnsHostName: false, connectionless: false);
        var connection = new LdapConnection(identifier) { AuthType = AuthType.Basic, Timeout = _options.Timeout };
        try
        {
            connection.SessionOptions.ProtocolVersion = 3;
            connection.SessionOptions.ReferralChasing = ReferralChasingOptions.None;
            if (_options.Security == LdapTransportSecurity.Ldaps)
            {
                connection.SessionOptions.SecureSocketLayer = true;
            }

            if (!string.IsNullOrWhiteSpace(_options.TrustedCertificatesDirectory) && !OperatingSystem.IsWindows())
            {
                connection.SessionOptions.TrustedCertificatesDirectory = _options.TrustedCertificatesDirectory;
                connection.SessionOptions.StartNewTlsSessionContext();
            }

            if (_options.Security == LdapTransportSecurity.StartTls)
            {
                if (!OperatingSystem.IsWindows())
                {
                    SetServerAddress(connection);
                }

                connection.SessionOptions.StartTransportLayerSecurity(null);
            }

            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Off Windows, System.DirectoryServices.Protocols hands libldap the server's address only when the first bind or
    /// request connects (dotnet/runtime#56619). A StartTLS before that goes to libldap's default server (the URI of
    /// ldap.conf, else localhost:389), not to <see cref="LdapAuthenticationOptions.Server"/>: it fails with "The LDAP
    /// server is unavailable" (81), or worse, talks to whatever listens there. A search whose filter libldap cannot
    /// encode takes that connect step and is then refused by libldap itself before anything is sent, so StartTLS is
    /// the first operation on the wire, to the configured server.
    /// </summary>
    private static void SetServerAddress(LdapConnection connection)
    {
        // Without this the search would first bind anonymously, in cleartext.
        connection.AutoBind = false;
        try
        {
            connection.SendRequest(new SearchRequest("", "(", SearchScope.Base, "1.1"));
        }
        catch (LdapException e) when (e.ErrorCode == LdapFilterError)
        {
        }
        finally
        {
            connection.AutoBind = true;
        }
    }

    private void BindServiceAccount(LdapConnection connection)
    {
        if (string.IsNullOrWhiteSpace(_options.ServiceAccountDn))
        {
            connection.AuthType = AuthType.Anonymous;
            connection.Bind();
        }
        else
        {
            connection.AuthType = AuthType.Basic;
            try
            {
                connection.Bind(new NetworkCredential(_options.ServiceAccountDn, _options.ServiceAccountPassword));
            }
            catch (LdapException e) when (e.ErrorCode == LdapInvalidCredentials)
            {
                // Not the user's fault: must not read as a wrong password.
                throw new DirectoryException("The directory refused the service account (ServiceAccountDn / ServiceAccountPassword).", e);
            }
        }
    }
}
