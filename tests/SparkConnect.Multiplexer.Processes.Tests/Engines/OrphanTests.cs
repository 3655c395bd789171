using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Processes.Engines;
using SparkConnect.Multiplexer.Processes.Launching;
using SparkConnect.Multiplexer.Processes.Tests.Infrastructure;
using SparkConnect.Multiplexer.Sessions;
using SparkConnect.Multiplexer.Testing;
using static SparkConnect.Multiplexer.Processes.Tests.Infrastructure.LaunchingGateway;
using static SparkConnect.Multiplexer.Testing.Polling;

namespace SparkConnect.Multiplexer.Processes.Tests.Engines;

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
    public async Task Restart_SessionStoreOutlivesTheGateway_EngineWithSessionsLeftRunningAndAdopted_SessionGoesOn()
    {
        var root = Path.Combine(Path.GetTempPath(), "orphan-tests-" + Guid.NewGuid().ToString("N")[..12]);
        var store = new ExternalSessionStore(new InMemorySessionStore());
        try
        {
            var sessionId = GatewayHost.NewSessionId();
            string engineId;
            await using (var first = await StartAsync(o => o.WorkingDirectory = root, s => s.AddSingleton<ISessionStore>(store)))
            {
                engineId = (await first.Client.ConfigAsync(GetAll(sessionId), Alice, cancellationToken: Cancel)).ServerSideSessionId;
            }

            var directory = Path.Combine(root, ProcessEngineManager.DirectoryNameOf(engineId));
            var state = EngineWorkDirectories.ReadState(directory)!;
            Assert.IsTrue(state.HandedOver, "the stopped gateway handed the engine over: its session is in a store that outlives it");
            Assert.IsTrue(IsAlive(state.ProcessId), "and left it running");

            await using (var restarted = await StartAsync(o => o.WorkingDirectory = root, s => s.AddSingleton<ISessionStore>(store)))
            {
                Assert.IsTrue(await EventuallyAsync(() => restarted.Engines.Engines.Any(e => e.Id == engineId && e.Adopted), TimeSpan.FromSeconds(60)), "the restarted gateway adopts it");
                var again = await restarted.Client.ConfigAsync(GetAll(sessionId), Alice, cancellationToken: Cancel);
                Assert.AreEqual(engineId, again.ServerSideSessionId, "the session goes on, on its engine");
                Assert.IsEmpty(restarted.Engines.StartedProcessIds, "no second engine was launched");
                await restarted.Client.ReleaseSessionAsync(new Spark.Connect.ReleaseSessionRequest { SessionId = sessionId }, Alice, cancellationToken: Cancel);
            }

            Assert.IsTrue(await EventuallyAsync(() => !IsAlive(state.ProcessId), TimeSpan.FromSeconds(30)), "with no session left, the next stop stops it");
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
        foreach (var argument in new[] { TestEngineHostDll, "--port", "0", "--name", Path.GetFileName(directory) })
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
