using System.Diagnostics;
using System.Reflection;
using SparkConnect.Multiplexer.Sql.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Sql.Tests.Trial;

/// <summary>
/// The README's "Trial in two terminals", command for command: the real sample host in trial mode (one embedded
/// local engine per user) and the shell, each its own process.
/// </summary>
[TestClass]
public sealed class TrialDemoTests
{
    private static readonly string SampleHostDll = typeof(TrialDemoTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SampleHostDll").Value!;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task AlicesTable_IsThereInHerNextSession_AndNotForBob()
    {
        await using var host = await StartSampleHostAsync();
        var port = host.ListeningAddresses.Single().Port;
        var alice = $"sc://localhost:{port}/;user_id=alice";
        var bob = $"sc://localhost:{port}/;user_id=bob";

        var (created, create) = await ShellProcess.RunAsync("", [alice, "CREATE TABLE IF NOT EXISTS mine AS SELECT 42 AS answer"]);
        var (found, aliceAgain) = await ShellProcess.RunAsync("", [alice, "SELECT * FROM mine"]);
        var (notFound, bobQuery) = await ShellProcess.RunAsync("", [bob, "SELECT * FROM mine"]);
        await using (create)
        await using (aliceAgain)
        await using (bobQuery)
        {
            Assert.AreEqual(0, created, create.Transcript);
            Assert.AreEqual(0, found, aliceAgain.Transcript);
            CollectionAssert.AreEqual(new[] { "+------+", "|answer|", "+------+", "|    42|", "+------+" }, aliceAgain.Output.ToArray(), aliceAgain.Transcript);
            Assert.AreEqual(1, notFound, bobQuery.Transcript);
            CollectionAssert.Contains(bobQuery.Errors.ToList(), "Error class: TABLE_OR_VIEW_NOT_FOUND (SQLSTATE 42P01)", bobQuery.Transcript);
        }
    }

    [TestMethod]
    public async Task AlicesTempView_IsGoneInHerNextSession_SoItProvesNothingAboutBob()
    {
        await using var host = await StartSampleHostAsync();
        var port = host.ListeningAddresses.Single().Port;
        var alice = $"sc://localhost:{port}/;user_id=alice";

        var (created, create) = await ShellProcess.RunAsync("", [alice, "CREATE TEMP VIEW mine AS SELECT 42 AS answer"]);
        var (notFound, aliceAgain) = await ShellProcess.RunAsync("", [alice, "SELECT * FROM mine"]);
        await using (create)
        await using (aliceAgain)
        {
            Assert.AreEqual(0, created, create.Transcript);
            Assert.AreEqual(1, notFound, aliceAgain.Transcript);
            CollectionAssert.Contains(aliceAgain.Errors.ToList(), "Error class: TABLE_OR_VIEW_NOT_FOUND (SQLSTATE 42P01)", aliceAgain.Transcript);
        }
    }

    private Task<ServerProcess> StartSampleHostAsync()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            // Its own folder, for its appsettings.json: the trial configuration the README runs.
            WorkingDirectory = Path.GetDirectoryName(SampleHostDll)!,
            // Port 0: the kernel's choice, which the host prints; no management endpoint, whose fixed default port
            // would clash with any other host on the machine.
            ArgumentList = { SampleHostDll, "--SampleHost:Port=0", "--SampleHost:ManagementPort=0", "--SparkConnectGateway:Authentication:Mode=None" },
        };
        return ServerProcess.StartListeningAsync(start, "sample host", TimeSpan.FromSeconds(60), TestContext.CancellationToken);
    }
}
