using Grpc.Core;
using Grpc.Net.Client;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Packaging;

/// <summary>
/// What a platform team does on day one: pack the core, create a web app from the SDK's <c>web</c> template outside
/// this repository, add the package from a local folder through a <c>nuget.config</c> (as nuget/README.md says), paste
/// the README's embedding example, build, run it as its own process, and make Spark Connect calls through it.
/// </summary>
[TestClass]
public sealed class ConsumerTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task NewWebApp_EmbedsThePackedGateway_AndServesCalls()
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.CancellationToken);
        limit.CancelAfter(TimeSpan.FromMinutes(10));
        var cancel = limit.Token;

        using var feed = await LocalPackageFeed.PackAsync("consumer", ["SparkConnect.Multiplexer"], cancel);
        var work = feed.WorkDirectory;
        var version = feed.Version;
        var app = await feed.CreateProjectDirectoryAsync("Consumer", cancel);
        await DotnetCli.RunAsync(app, cancel, "new", "web", "-o", ".", "-n", "Consumer", "--no-restore");
        await DotnetCli.RunAsync(app, cancel, "add", "package", "SparkConnect.Multiplexer", "--version", version);
        File.Copy(Repository.PathOf("samples/SparkConnect.Multiplexer.Embedding/Program.cs"), Path.Combine(app, "Program.cs"), overwrite: true);
        await DotnetCli.RunAsync(app, cancel, "build", "-c", "Release", "-o", Path.Combine(work, "out"));

        // Editors find the configuration schema through the package's buildTransitive targets.
        var segment = await DotnetCli.RunAsync(app, cancel, "msbuild", "-getItem:JsonSchemaSegment");
        var schema = System.Text.Json.JsonDocument.Parse(segment).RootElement.GetProperty("Items").GetProperty("JsonSchemaSegment")[0].GetProperty("FullPath").GetString()!;
        StringAssert.Contains(await File.ReadAllTextAsync(schema, cancel), "\"SparkConnectGateway\"");

        await using var engine = await RecordingEngine.StartAsync("consumer-engine", cancel);
        var start = DotnetCli.StartInfo(work, Path.Combine(work, "out", "Consumer.dll"), "--urls", "http://127.0.0.1:0", $"--Engine:Address={engine.Address}", "--ApiKeys:k-123=carol");
        await using var host = await ServerProcess.StartListeningAsync(start, "consumer app", TimeSpan.FromSeconds(60), cancel);
        using var channel = GrpcChannel.ForAddress(host.ListeningAddresses.Single());
        var client = new SparkConnectService.SparkConnectServiceClient(channel);

        await client.ConfigAsync(Request(), new Metadata { { "x-api-key", "k-123" } }, cancellationToken: cancel);
        var refused = await Assert.ThrowsExactlyAsync<RpcException>(async () => await client.ConfigAsync(Request(), cancellationToken: cancel));

        // The engine saw carol, as the host's authenticator decided, not the user the client claimed.
        var forwarded = ConfigRequest.Parser.ParseFrom(engine.Calls.Single().Requests[0]);
        Assert.AreEqual("carol", forwarded.UserContext.UserId);
        Assert.AreEqual(StatusCode.Unauthenticated, refused.StatusCode);
        StringAssert.Contains(refused.Status.Detail, "x-api-key");
    }

    private static ConfigRequest Request() => new()
    {
        SessionId = GatewayHost.NewSessionId(),
        UserContext = new UserContext { UserId = "mallory" },
        Operation = new ConfigRequest.Types.Operation { GetAll = new ConfigRequest.Types.GetAll() },
    };
}
