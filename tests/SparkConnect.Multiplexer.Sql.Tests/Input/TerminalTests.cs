using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine;
using SparkConnect.Multiplexer.Sql.Tests.Execution;
using SparkConnect.Multiplexer.Sql.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.Sql.Tests.Input;

/// <summary>The shell at a terminal (a pseudo-terminal): line editing, history, Ctrl+C and Ctrl+D as typed keys.</summary>
[TestClass]
public sealed class TerminalTests
{
    private const string Up = "\u001b[A";
    private const string Left = "\u001b[D";
    private const string CtrlC = "\u0003";
    private const string CtrlD = "\u0004";

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Terminal_EditsLines_RecallsHistory_IgnoresEmptyLines_AndLeavesOnCtrlD()
    {
        await using var engine = await LocalSparkConnectEngine.StartAsync(new LocalEngineOptions(), cancellationToken: TestContext.CancellationToken);
        await using var terminal = TerminalSession.Start($"sc://127.0.0.1:{engine.Address.Port}/;user_id=alice");
        await terminal.WaitForAsync("spark-sql>");

        await terminal.TypeAsync("SELECT 41 + 1 AS x;\r");
        await terminal.WaitForAsync("1 row (");
        await terminal.TypeAsync("\r\r");

        // Up brings the last statement back; Enter runs it again.
        await terminal.TypeAsync(Up + "\r");
        await terminal.WaitForAsync("1 row (", times: 2);
        Assert.AreEqual(2, TerminalSession.Count(terminal.Screen, "| 42|"), terminal.Screen);

        // Left arrow moves into the line, and what is typed there is inserted: 'c' becomes 'bc'.
        await terminal.TypeAsync("SELECT 'c' AS y;" + string.Concat(Enumerable.Repeat(Left, 8)) + "b\r");
        await terminal.WaitForAsync("| bc|");

        await terminal.TypeAsync(CtrlD);
        Assert.AreEqual(0, await terminal.WaitForExitAsync(), terminal.Screen);
        var history = await File.ReadAllLinesAsync(terminal.HistoryFile, TestContext.CancellationToken);
        CollectionAssert.AreEqual(new[] { "SELECT 41 + 1 AS x;", "SELECT 'bc' AS y;" }, history, "history holds each statement once, and no empty line");
    }

    [TestMethod]
    public async Task Terminal_CtrlC_InterruptsTheStatement_ThenTwiceAtThePromptLeaves()
    {
        await using var engine = await ScriptedEngine.StartAsync();
        await using var terminal = TerminalSession.Start($"sc://127.0.0.1:{engine.Engine.Address.Port}/;user_id=alice");
        await terminal.WaitForAsync("spark-sql>");

        await terminal.TypeAsync("SELECT 'hold' AS slow;\r");
        var held = await InterruptTests.WaitForAsync(() => engine.QueriesContaining("hold").SingleOrDefault());
        await terminal.TypeAsync(CtrlC);
        await terminal.WaitForAsync("Interrupted (");
        var interrupt = InterruptRequest.Parser.ParseFrom(engine.Engine.CallsTo("Interrupt").Single().Requests[0]);
        Assert.AreEqual(ExecutePlanRequest.Parser.ParseFrom(held.Requests[0]).OperationId, interrupt.OperationId);

        await terminal.TypeAsync("SELECT 1 AS n;\r");
        await terminal.WaitForAsync("1 row (");
        await terminal.TypeAsync(CtrlC);
        await terminal.WaitForAsync("press Ctrl+C again");
        await terminal.TypeAsync(CtrlC);

        Assert.AreEqual(0, await terminal.WaitForExitAsync(), terminal.Screen);
        Assert.AreEqual(1, engine.Engine.CallsTo("ReleaseSession").Count, terminal.Screen);
    }
}
