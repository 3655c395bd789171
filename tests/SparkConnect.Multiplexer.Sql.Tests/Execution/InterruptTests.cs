using System.Runtime.InteropServices;
using Spark.Connect;
using SparkConnect.Multiplexer.Sql.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.Sql.Tests.Execution;

/// <summary>Ctrl+C (SIGINT sent to the shell process) against an engine that holds a statement's stream open.</summary>
[TestClass]
public sealed class InterruptTests
{
    [TestMethod]
    public async Task Sigint_DuringStatement_InterruptsItsOperation_AndTheShellRunsTheNextStatement()
    {
        await using var engine = await ScriptedEngine.StartAsync();
        await using var shell = ShellProcess.Start([$"sc://127.0.0.1:{engine.Engine.Address.Port}/;user_id=alice"]);

        await shell.WriteAsync("SELECT 'hold' AS slow;\n");
        var held = await WaitForAsync(() => engine.QueriesContaining("hold").SingleOrDefault());
        shell.Signal(PosixSignal.SIGINT);

        var interrupt = await WaitForAsync(() => engine.Engine.CallsTo("Interrupt").SingleOrDefault());
        var request = InterruptRequest.Parser.ParseFrom(interrupt.Requests[0]);
        var execution = ExecutePlanRequest.Parser.ParseFrom(held.Requests[0]);
        Assert.AreEqual(InterruptRequest.Types.InterruptType.OperationId, request.InterruptType);
        Assert.AreEqual(execution.OperationId, request.OperationId, "the Interrupt names the running operation");
        Assert.AreEqual(execution.SessionId, request.SessionId);
        await held.Cancelled.WaitAsync(ShellProcess.Patience);
        await shell.WaitForErrorAsync(l => l.StartsWith("Interrupted (", StringComparison.Ordinal));

        Assert.IsFalse(shell.HasExited, shell.Transcript);
        await shell.WriteAsync("SELECT 'next' AS quick;\n");
        await shell.WaitForErrorAsync(l => l.StartsWith("1 row (", StringComparison.Ordinal));
        shell.CloseInput();
        Assert.AreEqual(0, await shell.WaitForExitAsync(), shell.Transcript);
    }

    [TestMethod]
    public async Task SigintTwiceAtAnIdlePrompt_Leaves_AndReleasesTheSession()
    {
        await using var engine = await ScriptedEngine.StartAsync();
        await using var shell = ShellProcess.Start([$"sc://127.0.0.1:{engine.Engine.Address.Port}/;user_id=alice"]);
        await shell.WriteAsync("SELECT 1 AS n;\nSELECT 2 AS\n");
        await shell.WaitForErrorAsync(l => l.StartsWith("1 row (", StringComparison.Ordinal));

        // The first Ctrl+C drops the half-typed statement and says how to leave; the second leaves.
        shell.Signal(PosixSignal.SIGINT);
        await shell.WaitForErrorAsync(l => l.Contains("press Ctrl+C again", StringComparison.Ordinal));
        Assert.IsFalse(shell.HasExited, shell.Transcript);
        shell.Signal(PosixSignal.SIGINT);

        Assert.AreEqual(0, await shell.WaitForExitAsync(), shell.Transcript);
        Assert.AreEqual(0, engine.Engine.CallsTo("Interrupt").Count, "nothing ran, so nothing was interrupted");
        var release = ReleaseSessionRequest.Parser.ParseFrom(engine.Engine.CallsTo("ReleaseSession").Single().Requests[0]);
        Assert.AreEqual(engine.Executions[0].SessionId, release.SessionId);
        Assert.AreEqual(1, engine.Executions.Count(e => e.Plan.Root is not null), "the dropped statement never ran");
    }

    [TestMethod]
    public async Task Sigterm_DuringStatement_InterruptsIt_ReleasesTheSession_AndLeaves()
    {
        await using var engine = await ScriptedEngine.StartAsync();
        await using var shell = ShellProcess.Start([$"sc://127.0.0.1:{engine.Engine.Address.Port}/;user_id=alice"]);
        await shell.WriteAsync("SELECT 'hold' AS slow;\n");
        await WaitForAsync(() => engine.QueriesContaining("hold").SingleOrDefault());

        shell.Signal(PosixSignal.SIGTERM);

        Assert.AreEqual(0, await shell.WaitForExitAsync(), shell.Transcript);
        Assert.AreEqual(1, engine.Engine.CallsTo("Interrupt").Count, shell.Transcript);
        Assert.AreEqual(1, engine.Engine.CallsTo("ReleaseSession").Count, shell.Transcript);
    }

    // Waits for something the engine records (a call); the timeout only ends a hung test.
    internal static async Task<T> WaitForAsync<T>(Func<T?> probe)
        where T : class
    {
        using var timeout = new CancellationTokenSource(ShellProcess.Patience);
        while (true)
        {
            if (probe() is { } found)
            {
                return found;
            }

            await Task.Delay(20, timeout.Token);
        }
    }
}
