using System.Text.RegularExpressions;
using SparkConnect.Multiplexer.LocalEngine;
using SparkConnect.Multiplexer.Sql.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.Sql.Tests.Execution;

/// <summary>Statements read from standard input (a script), run by the real local engine.</summary>
[TestClass]
public sealed partial class StatementTests
{
    private static LocalSparkConnectEngine _engine = null!;

    private static string Connection => $"sc://127.0.0.1:{_engine.Address.Port}/;user_id=alice";

    [ClassInitialize]
    public static async Task StartEngineAsync(TestContext context) => _engine = await LocalSparkConnectEngine.StartAsync(new LocalEngineOptions(), cancellationToken: context.CancellationToken);

    [ClassCleanup]
    public static async Task StopEngineAsync() => await _engine.DisposeAsync();

    [TestMethod]
    public async Task EmptyLine_BetweenStatements_DoesNotEndTheShell()
    {
        var (exitCode, shell) = await ShellProcess.RunAsync("SELECT 'before' AS first;\n\n   \nSELECT 'after' AS second;\n", [Connection]);
        await using (shell)
        {
            Assert.AreEqual(0, exitCode, shell.Transcript);
            CollectionAssert.Contains(shell.Output.ToList(), "|before|", shell.Transcript);
            CollectionAssert.Contains(shell.Output.ToList(), "| after|", shell.Transcript);
        }
    }

    [TestMethod]
    public async Task Query_PrintsRowCountAndTime_CountingRowsBeyondThoseShown()
    {
        var (exitCode, shell) = await ShellProcess.RunAsync("SELECT id FROM range(25);\nSELECT 1 AS one;\n", [Connection, "--max-rows", "5"]);
        await using (shell)
        {
            Assert.AreEqual(0, exitCode, shell.Transcript);
            var counts = shell.Errors.Where(l => RowCountLine().IsMatch(l)).ToList();
            Assert.HasCount(2, counts, shell.Transcript);
            StringAssert.StartsWith(counts[0], "25 rows (", shell.Transcript);
            StringAssert.StartsWith(counts[1], "1 row (", shell.Transcript);
            CollectionAssert.Contains(shell.Output.ToList(), "only showing top 5 rows", shell.Transcript);
            Assert.AreEqual(5, shell.Output.Count(l => Regex.IsMatch(l, @"^\|\s+\d+\|$")) - 1, shell.Transcript);
        }
    }

    [TestMethod]
    public async Task Statement_OverSeveralLines_RunsWhenItsSemicolonComes_NotAtSemicolonsInLiteralsOrComments()
    {
        var (exitCode, shell) = await ShellProcess.RunAsync("SELECT 'a;b' AS s, -- not the end;\n  2 AS n\n;\n", [Connection]);
        await using (shell)
        {
            Assert.AreEqual(0, exitCode, shell.Transcript);
            CollectionAssert.Contains(shell.Output.ToList(), "|  s|  n|", shell.Transcript);
            CollectionAssert.Contains(shell.Output.ToList(), "|a;b|  2|", shell.Transcript);
            Assert.AreEqual(1, shell.Errors.Count(l => RowCountLine().IsMatch(l)), shell.Transcript);
        }
    }

    [TestMethod]
    public async Task Script_StopsAtTheFirstFailedStatement_WithSparksErrorClass()
    {
        var (exitCode, shell) = await ShellProcess.RunAsync("SELECT * FROM no_such_table;\nSELECT 'never' AS x;\n", [Connection]);
        await using (shell)
        {
            Assert.AreEqual(1, exitCode, shell.Transcript);
            CollectionAssert.Contains(shell.Errors.ToList(), "Error class: TABLE_OR_VIEW_NOT_FOUND (SQLSTATE 42P01)", shell.Transcript);
            Assert.IsFalse(shell.Output.Any(l => l.Contains("never", StringComparison.Ordinal)), shell.Transcript);
        }
    }

    [TestMethod]
    public async Task ExitCommand_EndsTheInput()
    {
        var (exitCode, shell) = await ShellProcess.RunAsync("SELECT 1 AS one;\nexit\nSELECT 'never' AS x;\n", [Connection]);
        await using (shell)
        {
            Assert.AreEqual(0, exitCode, shell.Transcript);
            Assert.AreEqual(1, shell.Errors.Count(l => RowCountLine().IsMatch(l)), shell.Transcript);
        }
    }

    [TestMethod]
    public async Task Command_WithoutOutput_SaysOk_AndItsTableServesTheNextStatement()
    {
        var (exitCode, shell) = await ShellProcess.RunAsync("CREATE TABLE answers AS SELECT 42 AS answer;\nSELECT * FROM answers;\n", [Connection]);
        await using (shell)
        {
            Assert.AreEqual(0, exitCode, shell.Transcript);
            Assert.IsTrue(shell.Errors.Any(l => l.StartsWith("OK (", StringComparison.Ordinal)), shell.Transcript);
            CollectionAssert.Contains(shell.Output.ToList(), "|    42|", shell.Transcript);
        }
    }

    [GeneratedRegex(@"^[\d,]+ rows? \(\d+\.\d\d s\)$")]
    internal static partial Regex RowCountLine();
}
