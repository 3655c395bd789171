using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Testing;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Diagnostics;

/// <summary>Refusals an operator answers for name the user in the log and the audit trail.</summary>
[TestClass]
public sealed class RefusalAuditTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow(StatusCode.FailedPrecondition, DisplayName = "engine without a Spark Connect port")]
    [DataRow(StatusCode.Unavailable, DisplayName = "no engine")]
    public async Task EngineRefusal_IsLoggedAndAuditedWithTheUser(StatusCode status)
    {
        await using var gateway = await GatewayHost.StartAsync(_ => { }, g => g.AddEngineLocator(new RefusingLocator(status)));

        var refused = await Assert.ThrowsExactlyAsync<RpcException>(async () => await gateway.Client.ConfigAsync(
            new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: TestContext.CancellationToken));

        Assert.AreEqual(status, refused.StatusCode);
        var entries = gateway.Logs.Entries;
        Assert.IsTrue(entries.Any(e => e.Category == "SparkConnect.Multiplexer.Audit" && e.Message.Contains("user=alice", StringComparison.Ordinal) && e.Message.Contains($"status={status}", StringComparison.Ordinal)), string.Join('\n', entries.Select(e => e.Message)));
        Assert.IsTrue(entries.Any(e => e.Message.Contains("Config of alice from", StringComparison.Ordinal) && e.Message.Contains("refused", StringComparison.Ordinal)));
    }

    private sealed class RefusingLocator(StatusCode status) : IEngineLocator
    {
        public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
            => throw new EngineLocationException("The engine cannot serve Spark Connect.", status);
    }
}
