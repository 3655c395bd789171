using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Authentication;

[TestClass]
public sealed class AuthenticationTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task JvmStyleAuthenticationHeader_IsAccepted()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);

        var reply = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, new Metadata { { "authentication", "Bearer " + GatewayHost.BobToken } }, cancellationToken: Cancel);

        Assert.AreEqual("engine-a", reply.ServerSideSessionId);
        Assert.AreEqual("bob", ConfigRequest.Parser.ParseFrom(engine.Calls.Single().Requests[0]).UserContext.UserId);
    }

    [TestMethod]
    public async Task TrialMode_TakesUserIdFromUserContext_AndWarnsAtStart()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Authentication.Mode = GatewayAuthenticationMode.None);

        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId(), UserContext = new UserContext { UserId = "carol" } }, cancellationToken: Cancel);
        var missing = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, cancellationToken: Cancel));

        Assert.AreEqual("carol", ConfigRequest.Parser.ParseFrom(engine.Calls.Single().Requests[0]).UserContext.UserName);
        Assert.AreEqual(StatusCode.Unauthenticated, missing.StatusCode);
        StringAssert.Contains(missing.Status.Detail, "user_id");
        Assert.IsTrue(gateway.Logs.Entries.Any(e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning && e.Message.Contains("Authentication is OFF", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task HostAuthenticator_AfterStaticTokens_CanAcceptRefuseOrReportUnavailable()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(
            o => o.Engines.Default = new StaticEngineOptions { Address = engine.Address.ToString() },
            g => g.AddAuthenticator<HeaderAuthenticator>());

        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, new Metadata { { "x-test-user", "dave" } }, cancellationToken: Cancel);
        var refused = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, new Metadata { { "x-test-user", "!refuse" } }, cancellationToken: Cancel));
        var down = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, new Metadata { { "x-test-user", "!down" } }, cancellationToken: Cancel));
        var tokenStillWorks = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel);

        Assert.AreEqual("dave", ConfigRequest.Parser.ParseFrom(engine.Calls[0].Requests[0]).UserContext.UserId);
        Assert.AreEqual(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.AreEqual("refused by test", refused.Status.Detail);
        Assert.AreEqual(StatusCode.Unavailable, down.StatusCode);
        Assert.AreEqual("engine-a", tokenStillWorks.ServerSideSessionId);
    }

    private sealed class HeaderAuthenticator : IAuthenticator
    {
        public ValueTask<AuthenticationResult> AuthenticateAsync(AuthenticationContext context, CancellationToken cancellationToken)
            => ValueTask.FromResult(context.Headers["x-test-user"].ToString() switch
            {
                "" => AuthenticationResult.NoResult(),
                "!refuse" => AuthenticationResult.Refuse("refused by test"),
                "!down" => AuthenticationResult.Unavailable("directory unreachable"),
                var user => AuthenticationResult.Success(new GatewayPrincipal(user)),
            });
    }
}
