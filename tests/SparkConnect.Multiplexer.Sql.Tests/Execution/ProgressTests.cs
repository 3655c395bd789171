using System.Runtime.InteropServices;
using Spark.Connect;
using SparkConnect.Multiplexer.Sql.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.Sql.Tests.Execution;

/// <summary>The progress line of a statement that runs for a while (asked for with --progress always: stderr is a pipe here).</summary>
[TestClass]
public sealed class ProgressTests
{
    [TestMethod]
    public async Task LongStatement_ShowsTheEnginesExecutionProgress()
    {
        await using var engine = await ScriptedEngine.StartAsync();
        engine.HeldProgress = new ExecutePlanResponse.Types.ExecutionProgress
        {
            NumInflightTasks = 2,
            Stages =
            {
                new ExecutePlanResponse.Types.ExecutionProgress.Types.StageInfo { StageId = 0, NumTasks = 4, NumCompletedTasks = 4, InputBytesRead = 1024, Done = true },
                new ExecutePlanResponse.Types.ExecutionProgress.Types.StageInfo { StageId = 1, NumTasks = 6, NumCompletedTasks = 1, InputBytesRead = 1024 },
            },
        };
        await using var shell = ShellProcess.Start([$"sc://127.0.0.1:{engine.Engine.Address.Port}/;user_id=alice", "--progress", "always"]);
        await shell.WriteAsync("SELECT 'hold' AS slow;\n");

        var line = await shell.WaitForErrorAsync(l => l.Contains(" tasks", StringComparison.Ordinal));

        StringAssert.Contains(line, "5/10 tasks, 2 running, 2.0 KiB read");
        shell.Signal(PosixSignal.SIGINT);
        await shell.WaitForErrorAsync(l => l.StartsWith("Interrupted (", StringComparison.Ordinal));
    }

    [TestMethod]
    public async Task LongStatement_WithoutEngineProgress_ShowsTheTimeSoFar()
    {
        await using var engine = await ScriptedEngine.StartAsync();
        await using var shell = ShellProcess.Start([$"sc://127.0.0.1:{engine.Engine.Address.Port}/;user_id=alice", "--progress", "always"]);
        await shell.WriteAsync("SELECT 'hold' AS slow;\n");

        var line = await shell.WaitForErrorAsync(l => l.StartsWith("Running...", StringComparison.Ordinal));

        StringAssert.EndsWith(line, " s");
        shell.Signal(PosixSignal.SIGINT);
        await shell.WaitForErrorAsync(l => l.StartsWith("Interrupted (", StringComparison.Ordinal));
    }
}
