using SparkConnect.Multiplexer.LocalEngine;
using SparkConnect.Multiplexer.Sql.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Sql.Tests.Connection;

/// <summary>Credentials and TLS: from the command line, the environment, and the sc:// connection string.</summary>
[TestClass]
public sealed class ConnectionTests
{
    private const string Token = "shell-token-0123456789abcdef";

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow("option", DisplayName = "--token")]
    [DataRow("connection string", DisplayName = "token= in sc://")]
    [DataRow("environment", DisplayName = "SPARK_CONNECT_TOKEN")]
    public async Task Token_IsSentAsBearerOnEveryCall(string source)
    {
        await using var engine = await ScriptedEngine.StartAsync();
        var connection = $"sc://127.0.0.1:{engine.Engine.Address.Port}/;user_id=alice" + (source == "connection string" ? $";token={Token}" : "");
        string[] arguments = source == "option" ? [connection, "--token", Token] : [connection];
        var environment = source == "environment" ? new Dictionary<string, string> { ["SPARK_CONNECT_TOKEN"] = Token } : null;

        var (exitCode, shell) = await ShellProcess.RunAsync("SELECT 1 AS n;\n", arguments, environment);
        await using (shell)
        {
            Assert.AreEqual(0, exitCode, shell.Transcript);
            var calls = engine.Engine.Calls;
            CollectionAssert.AreEquivalent(new[] { "ExecutePlan", "ExecutePlan", "ReleaseSession" }, calls.Select(c => c.Method).ToArray());
            foreach (var call in calls)
            {
                Assert.AreEqual($"Bearer {Token}", call.Header("authorization"), call.Method);
            }
        }
    }

    [TestMethod]
    public async Task Token_OpensAnEngineThatAsksForIt_AndItsAbsenceIsRefused()
    {
        await using var engine = await LocalSparkConnectEngine.StartAsync(new LocalEngineOptions(), new LocalEngineListenOptions { AccessToken = Token }, cancellationToken: TestContext.CancellationToken);
        var connection = $"sc://127.0.0.1:{engine.Address.Port}/;user_id=alice";

        var (withToken, allowed) = await ShellProcess.RunAsync("SELECT 42 AS answer;\n", [connection, "--token", Token]);
        var (withoutToken, refused) = await ShellProcess.RunAsync("SELECT 42 AS answer;\n", [connection]);
        await using (allowed)
        await using (refused)
        {
            Assert.AreEqual(0, withToken, allowed.Transcript);
            CollectionAssert.Contains(allowed.Output.ToList(), "|    42|", allowed.Transcript);
            Assert.AreEqual(1, withoutToken, refused.Transcript);
            Assert.IsTrue(refused.Errors.Any(l => l.StartsWith("Error: Unauthenticated", StringComparison.Ordinal)), refused.Transcript);
        }
    }

    [TestMethod]
    [DataRow("--ca", DisplayName = "--ca")]
    [DataRow("use_ssl", DisplayName = "use_ssl=true and --ca")]
    public async Task Tls_WithTheServersCa_Connects(string how)
    {
        using var ca = TestCertificates.CreateCa("shell test CA");
        using var certificate = TestCertificates.CreateServer(ca);
        await using var engine = await ScriptedEngine.StartAsync(certificate);
        var caFile = Path.Combine(TestContext.TestRunResultsDirectory ?? Path.GetTempPath(), $"ca-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(caFile, TestCertificates.Pem(ca), TestContext.CancellationToken);
        try
        {
            var connection = $"sc://localhost:{engine.Engine.Address.Port}/;user_id=alice" + (how == "use_ssl" ? ";use_ssl=true" : "");
            var (exitCode, shell) = await ShellProcess.RunAsync("SELECT 1 AS n;\n", [connection, "--ca", caFile, "--token", Token]);
            await using (shell)
            {
                Assert.AreEqual(0, exitCode, shell.Transcript);
                Assert.AreEqual($"Bearer {Token}", engine.Engine.CallsTo("ExecutePlan")[0].Header("authorization"));
            }
        }
        finally
        {
            File.Delete(caFile);
        }
    }

    [TestMethod]
    public async Task Tls_WithAServerCertificateNoTrustedCaSigned_IsRefused()
    {
        using var ca = TestCertificates.CreateCa("shell test CA");
        using var other = TestCertificates.CreateCa("some other CA");
        using var certificate = TestCertificates.CreateServer(other);
        await using var engine = await ScriptedEngine.StartAsync(certificate);
        var caFile = Path.Combine(Path.GetTempPath(), $"ca-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(caFile, TestCertificates.Pem(ca), TestContext.CancellationToken);
        try
        {
            var (exitCode, shell) = await ShellProcess.RunAsync("SELECT 1 AS n;\n", [$"sc://localhost:{engine.Engine.Address.Port}/;user_id=alice", "--ca", caFile, "--token", Token]);
            await using (shell)
            {
                Assert.AreEqual(1, exitCode, shell.Transcript);
                Assert.IsTrue(shell.Errors.Any(l => l.StartsWith("Error: cannot talk to https://localhost:", StringComparison.Ordinal) && l.Contains("--ca FILE", StringComparison.Ordinal)), shell.Transcript);
                Assert.AreEqual(0, engine.Engine.Calls.Count, "no call, and so no token, reached a server the CA does not vouch for");
                Assert.IsFalse(shell.Errors.Any(l => l.StartsWith("Could not release", StringComparison.Ordinal)), "no session was opened, so none is released");
            }
        }
        finally
        {
            File.Delete(caFile);
        }
    }

    [TestMethod]
    [DataRow("http://localhost:15002", "must start with sc://", DisplayName = "not sc://")]
    [DataRow("sc://localhost:port/", "is not a number", DisplayName = "bad port")]
    [DataRow("sc://localhost/;use_ssl=yes", "use true or false", DisplayName = "bad use_ssl")]
    public async Task BadConnectionString_ExitsWith2_SayingWhatToFix(string connection, string message)
    {
        var (exitCode, shell) = await ShellProcess.RunAsync("", [connection]);
        await using (shell)
        {
            Assert.AreEqual(2, exitCode, shell.Transcript);
            Assert.IsTrue(shell.Errors.Any(l => l.Contains(message, StringComparison.Ordinal)), shell.Transcript);
        }
    }
}
