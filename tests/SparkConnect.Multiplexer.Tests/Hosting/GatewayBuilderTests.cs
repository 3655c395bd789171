using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Sessions;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Hosting;

/// <summary>Embedding without reading the source: instances, factories and direct registrations all count.</summary>
[TestClass]
public sealed class GatewayBuilderTests
{
    private const string ApiKeyHint = "send your API key in the 'x-api-key' header";

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task LocatorInstance_RoutesCalls()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var target = new EngineTarget(engine.Address);

        await using var gateway = await GatewayHost.StartAsync(_ => { }, g => g.AddEngineLocator(new KeyRecordingLocator(target)));
        await ConfigAsync(gateway, GatewayHost.AliceToken);

        Assert.HasCount(1, target.Requests);
    }

    [TestMethod]
    public async Task LocatorFactory_RoutesCalls()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var target = new EngineTarget(engine.Address);

        await using var gateway = await GatewayHost.StartAsync(_ => { }, g => g.AddEngineLocator(_ => new KeyRecordingLocator(target)));
        await ConfigAsync(gateway, GatewayHost.AliceToken);

        Assert.HasCount(1, target.Requests);
    }

    [TestMethod]
    public async Task LocatorRegisteredOnTheServiceCollection_CountsAsConfigured()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var target = new EngineTarget(engine.Address);

        // No Engines section and no AddEngineLocator: start-up used to stop with "No engine is configured".
        await using var gateway = await GatewayHost.StartAsync(_ => { }, g => g.Services.AddSingleton<IEngineLocator>(new KeyRecordingLocator(target)));
        await ConfigAsync(gateway, GatewayHost.AliceToken);

        Assert.HasCount(1, target.Requests);
    }

    [TestMethod]
    public async Task SessionStoreInstanceAndFactory_AreTheStoreInUse()
    {
        var instance = new InMemorySessionStore();
        await using (var gateway = await GatewayHost.StartAsync(o => o.Engines.Default = new() { Address = "http://127.0.0.1:15003" }, g => g.AddSessionStore(instance)))
        {
            Assert.AreSame(instance, gateway.Services.GetRequiredService<ISessionStore>());
        }

        InMemorySessionStore? made = null;
        await using (var gateway = await GatewayHost.StartAsync(o => o.Engines.Default = new() { Address = "http://127.0.0.1:15003" }, g => g.AddSessionStore(_ => made = new InMemorySessionStore())))
        {
            Assert.AreSame(made, gateway.Services.GetRequiredService<ISessionStore>());
            Assert.IsNotNull(made);
        }
    }

    [TestMethod]
    public async Task AuthenticatorInstance_SignsIn_AndItsHintReplacesTheTokenHint()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(
            o =>
            {
                o.Authentication.Tokens.Clear();
                o.Engines.Default = new() { Address = engine.Address.ToString() };
            },
            g => g.AddAuthenticator(new ApiKeyAuthenticator()));

        var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => ConfigAsync(gateway, token: null));
        await ConfigAsync(gateway, token: null, apiKey: "carol-key");

        Assert.AreEqual(StatusCode.Unauthenticated, refused.StatusCode);
        StringAssert.Contains(refused.Status.Detail, ApiKeyHint);
        Assert.DoesNotContain(";token=", refused.Status.Detail, "a host without tokens must not tell its users to add ;token=");
    }

    [TestMethod]
    public async Task AuthenticatorFactory_SignsIn()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(
            o => o.Engines.Default = new() { Address = engine.Address.ToString() },
            g => g.AddAuthenticator(_ => new ApiKeyAuthenticator()));

        await ConfigAsync(gateway, token: null, apiKey: "carol-key");
        var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => ConfigAsync(gateway, token: null));

        // Static tokens are configured too: both ways to sign in are named.
        StringAssert.Contains(refused.Status.Detail, ";token=");
        StringAssert.Contains(refused.Status.Detail, ApiKeyHint);
    }

    [TestMethod]
    public void BuilderExtensions_UseOnlyTheServiceCollection()
    {
        var services = new ServiceCollection();
        services.AddSparkConnectGateway();
        var foreign = new ForeignBuilder(services);

        foreign.AddAuthenticator<ApiKeyAuthenticator>().AddEngineLocator<StaticTestLocator>().AddSessionStore(new InMemorySessionStore());

        Assert.AreEqual(1, services.Count(d => d.ServiceType == typeof(IAuthenticator)));
        Assert.AreEqual(typeof(StaticTestLocator), services.Last(d => d.ServiceType == typeof(IEngineLocator)).ImplementationType);
    }

    private async Task ConfigAsync(GatewayHost gateway, string? token, string? apiKey = null)
    {
        var headers = new Metadata();
        if (token is not null)
        {
            headers.Add("authorization", "Bearer " + token);
        }

        if (apiKey is not null)
        {
            headers.Add("x-api-key", apiKey);
        }

        await gateway.Client.ConfigAsync(
            new ConfigRequest
            {
                SessionId = GatewayHost.NewSessionId(),
                UserContext = new UserContext { UserId = "alice" },
                Operation = new ConfigRequest.Types.Operation { GetAll = new ConfigRequest.Types.GetAll() },
            },
            headers,
            cancellationToken: Cancel);
    }

    private sealed record ForeignBuilder(IServiceCollection Services) : ISparkConnectGatewayBuilder;

    private sealed class StaticTestLocator : IEngineLocator
    {
        public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
            => ValueTask.FromResult(new EngineEndpoint("test", new Uri("http://127.0.0.1:15003")));
    }

    /// <summary>The kind of authenticator a platform writes in-process: an API key in a header of its own.</summary>
    private sealed class ApiKeyAuthenticator : IAuthenticator
    {
        public string? CredentialHint => ApiKeyHint;

        public ValueTask<AuthenticationResult> AuthenticateAsync(AuthenticationContext context, CancellationToken cancellationToken)
            => ValueTask.FromResult(context.Headers["x-api-key"].ToString() switch
            {
                "" => AuthenticationResult.NoResult(),
                "carol-key" => AuthenticationResult.Success(new GatewayPrincipal("carol")),
                _ => AuthenticationResult.Refuse("unknown API key"),
            });
    }
}
