using System.Diagnostics;
using System.Net.Sockets;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Authentication.Tests.Ldap;

/// <summary>
/// A real OpenLDAP <c>slapd</c> on 127.0.0.1 (free port) with a temporary mdb database loaded by <c>slapadd</c>:
/// dc=example,dc=org with people alice, bob, "smith, john" and the service account cn=reader, groups eng (alice,
/// bob) and admins (alice). Stopped and its directory deleted on dispose.
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
    private Process? _process;

    private SlapdServer(string directory, int port)
    {
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Starts slapd; fails (never skips) when it is not installed, since CI installs it.</summary>
    public static async Task<SlapdServer> StartAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(SlapdPath) || !File.Exists(SlapaddPath))
        {
            Assert.Fail($"{SlapdPath} is not installed: run 'apt-get install -y slapd ldap-utils' (CI installs it).");
        }

        var directory = Directory.CreateTempSubdirectory("slapd-test-").FullName;
        var server = new SlapdServer(directory, FreePort());
        try
        {
            Directory.CreateDirectory(Path.Combine(directory, "data"));
            var config = Path.Combine(directory, "slapd.conf");
            await File.WriteAllTextAsync(config, $"""
                include /etc/ldap/schema/core.schema
                include /etc/ldap/schema/cosine.schema
                include /etc/ldap/schema/inetorgperson.schema
                include /etc/ldap/schema/nis.schema
                modulepath /usr/lib/ldap
                moduleload back_mdb
                pidfile {directory}/slapd.pid
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

            server._process = Process.Start(new ProcessStartInfo(SlapdPath)
            {
                ArgumentList = { "-f", config, "-h", $"ldap://127.0.0.1:{server.Port}/", "-d", "0" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            server._process.OutputDataReceived += (_, _) => { };
            server._process.ErrorDataReceived += (_, _) => { };
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();
            await server.WaitUntilListeningAsync(cancellationToken);
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
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process?.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort() => Testing.FreePort.Pick();

    private async Task WaitUntilListeningAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            if (_process!.HasExited)
            {
                Assert.Fail($"slapd exited with code {_process.ExitCode} before listening on port {Port}.");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", Port, cancellationToken);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, cancellationToken);
            }
        }
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
