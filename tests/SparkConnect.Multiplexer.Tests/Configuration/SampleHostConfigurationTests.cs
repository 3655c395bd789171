using SparkConnect.Multiplexer.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.Tests.Configuration;

/// <summary>Configuration mistakes stop the real sample host (run as its own process) with the key named.</summary>
[TestClass]
public sealed class SampleHostConfigurationTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Start_WithMisspeltGatewayKey_StopsNamingItAndTheClosestKey()
    {
        var (exitCode, error) = await RunAsync("--SparkConnectGateway:Authentification:Mode=Tokens");

        Assert.AreNotEqual(0, exitCode);
        StringAssert.Contains(error, "SparkConnectGateway:Authentification is not a known setting, so it would be ignored; did you mean SparkConnectGateway:Authentication?");
    }

    [TestMethod]
    public async Task Start_WithMisspeltSampleHostKey_StopsNamingItAndTheClosestKey()
    {
        var (exitCode, error) = await RunAsync("--SampleHost:EngineMod=Local");

        Assert.AreNotEqual(0, exitCode);
        StringAssert.Contains(error, "SampleHost:EngineMod is not a known setting, so it would be ignored; did you mean SampleHost:EngineMode?");
    }

    [TestMethod]
    public async Task Start_WithZooKeeperConnectionString_TurnsZooKeeperOnAndValidatesItsSection()
    {
        var (exitCode, error) = await RunAsync(
            "--SampleHost:EngineMode=Process",
            "--SparkConnectGateway:ProcessEngines:Command=/bin/true",
            "--SparkConnectGateway:ProcessEngines:Arguments:0={port}",
            "--SparkConnectGateway:ZooKeeper:ConnectionString=127.0.0.1:1",
            "--SparkConnectGateway:ZooKeeper:SessionTimeout=00:00:01");

        Assert.AreEqual(1, exitCode, error);
        StringAssert.Contains(error, "SparkConnectGateway:ZooKeeper:SessionTimeout 00:00:01 is out of range");
    }

    [TestMethod]
    public async Task Start_WithBadSampleHostValue_StopsNamingTheValidValues()
    {
        var (exitCode, error) = await RunAsync("--SampleHost:EngineMode=Remote");

        Assert.AreNotEqual(0, exitCode);
        StringAssert.Contains(error, "SampleHost:EngineMode is 'Remote', which is not a valid value; use one of Local, Process, Static.");
    }

    [TestMethod]
    public async Task Start_WithSeveralProblems_PrintsOneLineEachWithoutStackTraceAndExitsNonZero()
    {
        var (exitCode, error) = await RunAsync(
            "--SparkConnectGateway:Authentification:Mode=Tokens",
            "--SparkConnectGateway:Sessions:IdleTimeout=10min",
            "--SparkConnectGateway:Authorization:Rules:0:ShareLevels:0=Conection",
            "--SampleHost:EngineMod=Local");

        Assert.AreEqual(1, exitCode, error);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        CollectionAssert.Contains(lines, "The configuration has 4 problem(s); fix them and start again:");
        CollectionAssert.Contains(lines, "SparkConnectGateway:Authentification is not a known setting, so it would be ignored; did you mean SparkConnectGateway:Authentication?");
        CollectionAssert.Contains(lines, "SparkConnectGateway:Sessions:IdleTimeout is '10min', which is not a duration; use the format [d.]hh:mm:ss, for example 00:10:00 for ten minutes or 1.00:00:00 for a day.");
        CollectionAssert.Contains(lines, "SparkConnectGateway:Authorization:Rules:0:ShareLevels:0 is 'Conection', which is not a valid value; use one of Connection, User, Group, Server.");
        CollectionAssert.Contains(lines, "SampleHost:EngineMod is not a known setting, so it would be ignored; did you mean SampleHost:EngineMode?");
        Assert.DoesNotContain("Unhandled exception", error);
        Assert.IsFalse(lines.Any(l => l.StartsWith("at ", StringComparison.Ordinal)), error);
    }

    [TestMethod]
    public async Task Start_WithMissingCertificate_NamesTheKeyAndPath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.pfx");

        var (exitCode, error) = await RunAsync($"--SampleHost:CertificatePath={path}");

        Assert.AreEqual(1, exitCode, error);
        StringAssert.Contains(error, $"SampleHost:CertificatePath is '{path}', which does not exist");
        Assert.DoesNotContain("Unhandled exception", error);
    }

    [TestMethod]
    public async Task Start_WithWrongCertificatePasswordOrNotAPfx_NamesTheKeyAndPath()
    {
        using var key = System.Security.Cryptography.ECDsa.Create();
        using var certificate = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=localhost", key, System.Security.Cryptography.HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var pfx = Path.GetTempFileName();
        var pem = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(pfx, certificate.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pfx, "right"), TestContext.CancellationToken);
            await File.WriteAllTextAsync(pem, certificate.ExportCertificatePem(), TestContext.CancellationToken);

            var (wrongPassword, wrongPasswordError) = await RunAsync($"--SampleHost:CertificatePath={pfx}", "--SampleHost:CertificatePassword=wrong");
            var (notPfx, notPfxError) = await RunAsync($"--SampleHost:CertificatePath={pem}");

            Assert.AreEqual(1, wrongPassword, wrongPasswordError);
            StringAssert.Contains(wrongPasswordError, $"SampleHost:CertificatePath '{pfx}' cannot be opened as a PFX (PKCS#12) file with SampleHost:CertificatePassword");
            Assert.AreEqual(1, notPfx, notPfxError);
            StringAssert.Contains(notPfxError, $"SampleHost:CertificatePath '{pem}' cannot be opened as a PFX");
        }
        finally
        {
            File.Delete(pfx);
            File.Delete(pem);
        }
    }

    [TestMethod]
    public async Task Start_OnAPortInUse_SaysSoInOneLine_AndNoBackgroundServiceCrashes()
    {
        using var occupied = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        occupied.Start();
        var port = ((System.Net.IPEndPoint)occupied.LocalEndpoint).Port;

        // Process engines: their launcher's background service is running when Kestrel fails to bind.
        var (exitCode, output) = await RunAsync(
            $"--SampleHost:Port={port}",
            "--SampleHost:EngineMode=Process",
            "--SparkConnectGateway:ProcessEngines:Command=/bin/true",
            "--SparkConnectGateway:ProcessEngines:Arguments:0={port}");

        Assert.AreEqual(1, exitCode, output);
        StringAssert.Contains(output, $"Cannot listen: Failed to bind to address http://127.0.0.1:{port}: address already in use.");
        StringAssert.Contains(output, "--SampleHost:Port");
        Assert.DoesNotContain("BackgroundService failed", output);
        Assert.DoesNotContain("Unhandled exception", output);
    }

    private Task<(int ExitCode, string Output)> RunAsync(params string[] arguments)
        => SampleHostProcess.RunToExitAsync(TestContext.CancellationToken, arguments);
}
