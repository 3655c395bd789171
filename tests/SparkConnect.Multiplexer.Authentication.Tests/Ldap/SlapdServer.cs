using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Authentication.Tests.Ldap;

/// <summary>
/// A real OpenLDAP <c>slapd</c> on 127.0.0.1 (free port) with a temporary mdb database loaded by <c>slapadd</c>:
/// dc=example,dc=org with people alice, bob, "smith, john", carol (two uid values: carol, carol2) and the service
/// account cn=reader, groups eng (alice,
/// bob) and admins (alice). Stopped and its directory deleted on dispose. Started with TLS
/// (<see cref="StartWithTlsAsync"/>), it also listens for LDAPS on <see cref="LdapsPort"/> and requires TLS (StartTLS
/// or LDAPS) for every operation but StartTLS itself, so a bind that succeeds went over TLS.
/// </summary>
internal sealed class SlapdServer : IAsyncDisposable
{
    public const string SlapdPath = "/usr/sbin/slapd";
    public const string SlapaddPath = "/usr/sbin/slapadd";
    public const string BaseDn = "dc=example,dc=org";
    public const string PeopleDn = "ou=people,dc=example,dc=org";
    public const string GroupsDn = "ou=groups,dc=example,dc=org";
    public const string ReaderDn = "cn=reader,dc=example,dc=org";
    public const string ReaderPassword = "reader-secret";

    private const string Ldif = """
        dn: dc=example,dc=org
        objectClass: dcObject
        objectClass: organization
        o: Example
        dc: example

        dn: ou=people,dc=example,dc=org
        objectClass: organizationalUnit
        ou: people

        dn: ou=groups,dc=example,dc=org
        objectClass: organizationalUnit
        ou: groups

        dn: cn=reader,dc=example,dc=org
        objectClass: person
        cn: reader
        sn: reader
        userPassword: reader-secret

        dn: uid=alice,ou=people,dc=example,dc=org
        objectClass: inetOrgPerson
        uid: alice
        cn: Alice
        sn: Anders
        userPassword: alice-password

        dn: uid=bob,ou=people,dc=example,dc=org
        objectClass: inetOrgPerson
        uid: bob
        cn: Bob
        sn: Berg
        userPassword: bob-password

        dn: uid=smith\2C john,ou=people,dc=example,dc=org
        objectClass: inetOrgPerson
        uid: smith, john
        cn: John Smith
        sn: Smith
        userPassword: john-password

        dn: uid=carol,ou=people,dc=example,dc=org
        objectClass: inetOrgPerson
        uid: carol
        uid: carol2
        cn: Carol
        sn: Cole
        userPassword: carol-password

        dn: cn=eng,ou=groups,dc=example,dc=org
        objectClass: groupOfNames
        cn: eng
        member: uid=alice,ou=people,dc=example,dc=org
        member: uid=bob,ou=people,dc=example,dc=org

        dn: cn=admins,ou=groups,dc=example,dc=org
        objectClass: groupOfNames
        cn: admins
        member: uid=alice,ou=people,dc=example,dc=org

        """;

    private readonly string _directory;
    private ServerProcess? _process;
    private int _trustDirectories;

    private SlapdServer(string directory) => _directory = directory;

    /// <summary>The ldap:// port (cleartext, or StartTLS when started with TLS).</summary>
    public int Port { get; private set; }

    /// <summary>The ldaps:// port; 0 when started without TLS.</summary>
    public int LdapsPort { get; private set; }

    /// <summary>Starts slapd without TLS; fails (never skips) when it is not installed, since CI installs it.</summary>
    public static Task<SlapdServer> StartAsync(CancellationToken cancellationToken) => StartAsync(null, cancellationToken);

    /// <summary>
    /// Starts slapd with <paramref name="serverCertificate"/> (and its key) for StartTLS on <see cref="Port"/> and LDAPS
    /// on <see cref="LdapsPort"/>; <paramref name="ca"/> is the server's CA file.
    /// </summary>
    public static Task<SlapdServer> StartWithTlsAsync(X509Certificate2 ca, X509Certificate2 serverCertificate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ca);
        ArgumentNullException.ThrowIfNull(serverCertificate);
        return StartAsync((ca, serverCertificate), cancellationToken);
    }

    /// <summary>
    /// Writes <paramref name="ca"/> as PEM into a new directory inside the server's (deleted with it), for
    /// <see cref="LdapAuthenticationOptions.TrustedCertificatesDirectory"/>. Debian's libldap uses GnuTLS, which reads
    /// every file in the directory; a libldap built with OpenSSL would want hashed names (<c>openssl rehash</c>).
    /// </summary>
    public string CreateTrustDirectory(X509Certificate2 ca)
    {
        ArgumentNullException.ThrowIfNull(ca);
        var directory = Path.Combine(_directory, "trust-" + Interlocked.Increment(ref _trustDirectories).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "ca.pem"), TestCertificates.Pem(ca));
        return directory;
    }

    private static async Task<SlapdServer> StartAsync((X509Certificate2 Ca, X509Certificate2 Certificate)? tls, CancellationToken cancellationToken)
    {
        if (!File.Exists(SlapdPath) || !File.Exists(SlapaddPath))
        {
            Assert.Fail($"{SlapdPath} is not installed: run 'apt-get install -y slapd ldap-utils' (CI installs it).");
        }

        var directory = Directory.CreateTempSubdirectory("slapd-test-").FullName;
        var server = new SlapdServer(directory);
        try
        {
            Directory.CreateDirectory(Path.Combine(directory, "data"));
            var tlsConfig = tls is { } t ? await WriteTlsFilesAsync(directory, t.Ca, t.Certificate, cancellationToken) : "";
            var config = Path.Combine(directory, "slapd.conf");
            await File.WriteAllTextAsync(config, $"""
                include /etc/ldap/schema/core.schema
                include /etc/ldap/schema/cosine.schema
                include /etc/ldap/schema/inetorgperson.schema
                include /etc/ldap/schema/nis.schema
                modulepath /usr/lib/ldap
                moduleload back_mdb
                pidfile {directory}/slapd.pid
                {tlsConfig}
                database mdb
                maxsize 10485760
                suffix "{BaseDn}"
                rootdn "cn=admin,{BaseDn}"
                directory {directory}/data
                access to attrs=userPassword by anonymous auth by self read by * none
                access to * by users read by * none

                """, cancellationToken);
            var ldif = Path.Combine(directory, "data.ldif");
            await File.WriteAllTextAsync(ldif, Ldif.Replace("\r\n", "\n", StringComparison.Ordinal), cancellationToken);

            var (code, output) = await RunAsync(SlapaddPath, ["-f", config, "-l", ldif], cancellationToken);
            Assert.AreEqual(0, code, "slapadd failed: " + output);

            // slapd cannot bind port 0 and say which port it got: free ports, and new ones should another process
            // take one first (slapd then exits: bind failed, address already in use).
            server._process = await ServerProcess.StartOnFreePortsAsync(
                tls is null ? 1 : 2,
                ports =>
                {
                    var urls = $"ldap://127.0.0.1:{ports[0]}/" + (tls is null ? "" : $" ldaps://127.0.0.1:{ports[1]}/");
                    return new ProcessStartInfo(SlapdPath) { ArgumentList = { "-f", config, "-h", urls, "-d", "0" } };
                },
                "slapd",
                async (ports, token) => await ServerProcess.AcceptsConnectionsAsync(ports[0], token) && (tls is null || await ServerProcess.AcceptsConnectionsAsync(ports[1], token)),
                TimeSpan.FromSeconds(15),
                cancellationToken);
            server.Port = server._process.Ports[0];
            server.LdapsPort = tls is null ? 0 : server._process.Ports[1];
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops slapd (the test directory stays until dispose).</summary>
    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            await process.KillAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { } process)
        {
            await process.DisposeAsync();
        }

        ServerProcess.DeleteDirectory(_directory);
    }

    /// <summary>
    /// Writes the CA, certificate and key as PEM (the key readable by this user only: slapd runs as the user that
    /// runs the tests, root or not, since it is started without -u) and returns the slapd.conf lines that use them
    /// (olcTLSCACertificateFile, olcTLSCertificateFile, olcTLSCertificateKeyFile in cn=config terms).
    /// </summary>
    private static async Task<string> WriteTlsFilesAsync(string directory, X509Certificate2 ca, X509Certificate2 certificate, CancellationToken cancellationToken)
    {
        var caFile = Path.Combine(directory, "ca.pem");
        var certificateFile = Path.Combine(directory, "server.pem");
        var keyFile = Path.Combine(directory, "server.key");
        await File.WriteAllTextAsync(caFile, TestCertificates.Pem(ca), cancellationToken);
        await File.WriteAllTextAsync(certificateFile, TestCertificates.Pem(certificate), cancellationToken);
        var keyOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            keyOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var key = new FileStream(keyFile, keyOptions))
        await using (var writer = new StreamWriter(key))
        {
            await writer.WriteAsync(TestCertificates.PrivateKeyPem(certificate).AsMemory(), cancellationToken);
        }

        return $"""
            TLSCACertificateFile {caFile}
            TLSCertificateFile {certificateFile}
            TLSCertificateKeyFile {keyFile}
            security tls=1
            """;
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, string[] arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return (process.ExitCode, await stdout + await stderr);
    }
}
