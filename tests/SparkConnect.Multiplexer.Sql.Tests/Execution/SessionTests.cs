using Grpc.Core;
using Spark.Connect;
using SparkConnect.Multiplexer.Sql.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.Sql.Tests.Execution;

/// <summary>The session the shell opens: one id for every call, released on the way out.</summary>
[TestClass]
public sealed class SessionTests
{
    [TestMethod]
    [DataRow("SELECT 1 AS n;\n", DisplayName = "end of input")]
    [DataRow("SELECT 1 AS n;\nquit;\n", DisplayName = "quit")]
    public async Task Leaving_ReleasesTheSessionItUsed(string input)
    {
        await using var engine = await ScriptedEngine.StartAsync();
        var (exitCode, shell) = await ShellProcess.RunAsync(input, [$"sc://127.0.0.1:{engine.Engine.Address.Port}/;user_id=alice"]);
        await using (shell)
        {
            Assert.AreEqual(0, exitCode, shell.Transcript);
            var sessions = engine.Executions.Select(e => e.SessionId).Distinct().ToList();
            Assert.HasCount(1, sessions, "every statement runs in one session");
            var release = ReleaseSessionRequest.Parser.ParseFrom(engine.Engine.CallsTo("ReleaseSession").Single().Requests[0]);
            Assert.AreEqual(sessions[0], release.SessionId);
            Assert.AreEqual("alice", release.UserContext.UserId);
        }
    }

    [TestMethod]
    public async Task Leaving_WithoutAStatement_ReleasesNothing()
    {
        await using var engine = await ScriptedEngine.StartAsync();
        var (exitCode, shell) = await ShellProcess.RunAsync("\n", [$"sc://127.0.0.1:{engine.Engine.Address.Port}/;user_id=alice"]);
        await using (shell)
        {
            Assert.AreEqual(0, exitCode, shell.Transcript);

            // A session the server never saw is not created on it just to be released (a gateway would launch an engine).
            Assert.AreEqual(0, engine.Engine.Calls.Count, shell.Transcript);
        }
    }

    [TestMethod]
    public async Task OneShotStatement_ReleasesTheSession()
    {
        await using var engine = await ScriptedEngine.StartAsync();
        var (exitCode, shell) = await ShellProcess.RunAsync("", [$"sc://127.0.0.1:{engine.Engine.Address.Port}/;user_id=alice", "SELECT 1 AS n"]);
        await using (shell)
        {
            Assert.AreEqual(0, exitCode, shell.Transcript);
            Assert.AreEqual(1, engine.Engine.CallsTo("ReleaseSession").Count, shell.Transcript);
        }
    }

    [TestMethod]
    [DataRow(StatusCode.Unimplemented, false, DisplayName = "Spark 3.5: no ReleaseSession, nothing to say")]
    [DataRow(StatusCode.PermissionDenied, true, DisplayName = "refused: said, not fatal")]
    public async Task ReleaseSession_Failing_DoesNotChangeTheExitCode(StatusCode failure, bool reported)
    {
        await using var engine = await ScriptedEngine.StartAsync();
        engine.ReleaseSessionFailure = failure;
        var (exitCode, shell) = await ShellProcess.RunAsync("SELECT 1 AS n;\n", [$"sc://127.0.0.1:{engine.Engine.Address.Port}/;user_id=alice"]);
        await using (shell)
        {
            Assert.AreEqual(0, exitCode, shell.Transcript);
            Assert.AreEqual(1, engine.Engine.CallsTo("ReleaseSession").Count);
            Assert.AreEqual(reported, shell.Errors.Any(l => l.StartsWith("Could not release session", StringComparison.Ordinal)), shell.Transcript);
        }
    }
}
