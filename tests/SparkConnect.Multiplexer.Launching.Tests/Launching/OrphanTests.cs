using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SparkConnect.Multiplexer.Launching.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;
using static SparkConnect.Multiplexer.Launching.Tests.Infrastructure.LaunchingGateway;
using static SparkConnect.Multiplexer.Testing.Polling;

namespace SparkConnect.Multiplexer.Launching.Tests.Launching;

[TestClass]
public sealed class OrphanTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task Launch_WritesStateFileNamingTheEngineProcessAndThisGateway()
    {
        await using var gateway = await StartAsync(static _ => { });

        var response = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel);

        var file = Directory.GetFiles(gateway.WorkRoot, EngineWorkDirectories.StateFileName, SearchOption.AllDirectories).Single();
        var state = EngineWorkDirectories.ReadState(Path.GetDirectoryName(file)!)!;
        Assert.AreEqual(response.ServerSideSessionId, state.EngineId);
        Assert.AreEqual(gateway.Engines.StartedProcessIds.Single(), state.ProcessId);
        Assert.AreEqual(Environment.ProcessId, state.GatewayProcessId);
    }

    [TestMethod]
    public async Task Start_EngineLeftRunningByAGatewayThatIsGone_IsStopped_OneOfALiveGatewayIsNot()
    {
        var root = Path.Combine(Path.GetTempPath(), "orphan-tests-" + Guid.NewGuid().ToString("N")[..12]);
        using var orphan = StartEngine(Path.Combine(root, "process_USER_alice_default_orphan"));
        using var owned = StartEngine(Path.Combine(root, "process_USER_bob_default_owned"));
        try
        {
            // The gateway that launched the orphan was killed with -9: its process id names no running process.
            using var dead = Process.Start("/bin/true")!;
            await dead.WaitForExitAsync(Cancel);
            WriteState(Path.Combine(root, "process_USER_alice_default_orphan"), "orphan", orphan, dead.Id, DateTimeOffset.UtcNow);
            WriteState(Path.Combine(root, "process_USER_bob_default_owned"), "owned", owned, Environment.ProcessId, new DateTimeOffset(Process.GetCurrentProcess().StartTime.ToUniversalTime(), TimeSpan.Zero));

            await using var gateway = await StartAsync(o => o.WorkingDirectory = root);

            Assert.IsTrue(await EventuallyAsync(() => orphan.HasExited, TimeSpan.FromSeconds(60)), "the orphan was stopped");
            Assert.IsTrue(await EventuallyAsync(() => gateway.Host.Logs.Entries.Any(e => e.Message.Contains("left running by gateway process " + dead.Id.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)), TimeSpan.FromSeconds(10)), "and the stop logged");
            Assert.IsEmpty(EngineWorkDirectories.FindOrphans(root), "nothing else counts as an orphan");
            Assert.IsFalse(owned.HasExited, "the engine of a gateway still running is left alone");
        }
        finally
        {
            EngineProcesses.KillAllUnder(root);
            ServerProcess.DeleteDirectory(root);
        }
    }

    [TestMethod]
    public async Task DeleteExpiredWorkDirectories_EndedEngineOlderThanRetention_Deleted_RecentKept()
    {
        await using var gateway = await StartAsync(o => o.WorkDirectoryRetention = TimeSpan.FromDays(7));
        var old = Directory.CreateDirectory(Path.Combine(gateway.WorkRoot, "process_USER_alice_default_old")).FullName;
        var recent = Directory.CreateDirectory(Path.Combine(gateway.WorkRoot, "process_USER_alice_default_recent")).FullName;
        await File.WriteAllTextAsync(Path.Combine(old, "engine.log"), "old engine", Cancel);
        await File.WriteAllTextAsync(Path.Combine(recent, "engine.log"), "recent engine", Cancel);
        File.SetLastWriteTimeUtc(Path.Combine(old, "engine.log"), DateTime.UtcNow.AddDays(-8));

        var deleted = gateway.Engines.DeleteExpiredWorkDirectories();

        Assert.AreEqual(1, deleted);
        Assert.IsFalse(Directory.Exists(old));
        Assert.IsTrue(Directory.Exists(recent));
    }

    private static Process StartEngine(string directory)
    {
        Directory.CreateDirectory(directory);
        var start = new ProcessStartInfo(DotNet) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (var argument in new[] { TestEngineHostDll, "--port", FreePort.Pick().ToString(CultureInfo.InvariantCulture), "--name", Path.GetFileName(directory) })
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start)!;
    }

    private static void WriteState(string directory, string engineId, Process engine, int gatewayProcessId, DateTimeOffset gatewayStartedAt)
    {
        var state = new EngineDirectoryState(engineId, engine.Id, new DateTimeOffset(engine.StartTime.ToUniversalTime(), TimeSpan.Zero), gatewayProcessId, gatewayStartedAt);
        File.WriteAllText(Path.Combine(directory, EngineWorkDirectories.StateFileName), JsonSerializer.Serialize(state, EngineDirectoryStateContext.Default.EngineDirectoryState));
    }
}
