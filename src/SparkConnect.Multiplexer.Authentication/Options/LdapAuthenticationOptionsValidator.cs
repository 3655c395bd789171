using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Authentication;

/// <summary>Checks the LDAP options at start-up and lists every problem with its fix.</summary>
internal sealed class LdapAuthenticationOptionsValidator : IValidateOptions<LdapAuthenticationOptions>
{
    private const string Section = LdapAuthenticationOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, LdapAuthenticationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();

        if (string.IsNullOrWhiteSpace(options.Server))
        {
            errors.Add($"{Section}:Server is empty: set the directory server's host name, e.g. ldap.example.org.");
        }

        if (options.Port is < 0 or > 65535)
        {
            errors.Add($"{Section}:Port {options.Port} is not a TCP port: use 389 (StartTLS or None), 636 (Ldaps), or 0 for the default.");
        }

        if (!Enum.IsDefined(options.Security))
        {
            errors.Add($"{Section}:Security must be None, StartTls or Ldaps.");
        }

        var hasTemplate = !string.IsNullOrWhiteSpace(options.UserDnTemplate);
        var hasSearch = !string.IsNullOrWhiteSpace(options.UserSearchBase);
        if (hasTemplate == hasSearch)
        {
            errors.Add(hasTemplate
                ? $"Both {Section}:UserDnTemplate and {Section}:UserSearchBase are set: keep the template for a direct bind, or the search base for search-then-bind."
                : $"Neither {Section}:UserDnTemplate nor {Section}:UserSearchBase is set: set UserDnTemplate (e.g. uid={{0}},ou=people,dc=example,dc=org) or UserSearchBase (e.g. ou=people,dc=example,dc=org).");
        }

        if (hasTemplate && !options.UserDnTemplate!.Contains("{0}", StringComparison.Ordinal))
        {
            errors.Add($"{Section}:UserDnTemplate '{options.UserDnTemplate}' has no {{0}} for the user name, e.g. uid={{0}},ou=people,dc=example,dc=org.");
        }

        if (hasSearch && !IsFilter(options.UserSearchFilter, "{0}"))
        {
            errors.Add($"{Section}:UserSearchFilter must be a parenthesized LDAP filter with {{0}} for the user name, e.g. (uid={{0}}).");
        }

        if (!string.IsNullOrWhiteSpace(options.UserNameAttribute) && !IsAttributeDescription(options.UserNameAttribute.Trim()))
        {
            errors.Add($"{Section}:UserNameAttribute '{options.UserNameAttribute}' is not an LDAP attribute name: name the single-valued attribute that holds the user name, e.g. uid (the default) or sAMAccountName.");
        }

        if (!string.IsNullOrWhiteSpace(options.ServiceAccountDn) && string.IsNullOrEmpty(options.ServiceAccountPassword))
        {
            errors.Add($"{Section}:ServiceAccountPassword is empty while {Section}:ServiceAccountDn is set: give the service account's password (from a secret store), or remove ServiceAccountDn for anonymous searches.");
        }

        if (!string.IsNullOrWhiteSpace(options.GroupSearchBase))
        {
            if (!IsFilter(options.GroupSearchFilter, "{0}") && !IsFilter(options.GroupSearchFilter, "{1}"))
            {
                errors.Add($"{Section}:GroupSearchFilter must be a parenthesized LDAP filter with {{0}} (user DN) or {{1}} (user name), e.g. (member={{0}}) or (memberUid={{1}}).");
            }

            if (string.IsNullOrWhiteSpace(options.GroupNameAttribute))
            {
                errors.Add($"{Section}:GroupNameAttribute is empty: name the group entry attribute that holds the group's name, e.g. cn.");
            }
        }

        if (options.Timeout <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:Timeout must be positive, e.g. 00:00:10.");
        }

        if (options.CacheDuration < TimeSpan.Zero)
        {
            errors.Add($"{Section}:CacheDuration must not be negative: e.g. 00:05:00, or 00:00:00 to bind on every call.");
        }

        if (!options.AcceptBasicAuthentication && !options.AcceptBearerTokenAsPassword)
        {
            errors.Add($"{Section}: both AcceptBasicAuthentication and AcceptBearerTokenAsPassword are false, so no credential can reach LDAP: turn one on.");
        }

        if (!string.IsNullOrWhiteSpace(options.TrustedCertificatesDirectory) && !Directory.Exists(options.TrustedCertificatesDirectory))
        {
            errors.Add($"{Section}:TrustedCertificatesDirectory '{options.TrustedCertificatesDirectory}' does not exist: give a directory of CA certificates, or remove the setting to use the system's.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>An attribute description of RFC 4512 2.5: a name (letter, then letters, digits, hyphens) or a numeric OID, with options.</summary>
    private static bool IsAttributeDescription(string value)
        => System.Text.RegularExpressions.Regex.IsMatch(value, @"^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)(?:;[A-Za-z0-9-]+)*$", System.Text.RegularExpressions.RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    private static bool IsFilter(string? filter, string placeholder)
        => !string.IsNullOrWhiteSpace(filter) && filter.StartsWith('(') && filter.EndsWith(')') && filter.Contains(placeholder, StringComparison.Ordinal);
}
