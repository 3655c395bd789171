namespace SparkConnect.Multiplexer.Authentication.Ldap;

/// <summary>The bind succeeded, but the entry gives no single plain user name; the message says what to fix.</summary>
internal sealed class LdapEntryNameException(string userDn, string problem) : Exception(problem)
{
    public string UserDn { get; } = userDn;

    public string Problem { get; } = problem;
}
