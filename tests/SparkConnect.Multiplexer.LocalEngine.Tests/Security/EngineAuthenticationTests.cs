extern alias Testing;

using System.Diagnostics;
using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Hosting;
using SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;
using ServerProcess = Testing::SparkConnect.Multiplexer.Testing.ServerProcess;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Security;

/// <summary>An engine must refuse every caller but the gateway that started it (or whoever holds its token).</summary>
[TestClass]
public sealed class EngineAuthenticationTests
{
    private static readonly string HostDll = typeof(EngineAuthenticationTests).Assembly
        .GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
        .Cast<System.Reflection.AssemblyMetadataAttribute>()
        .Single(a => a.Key == "LocalEngineHostDll").Value!;

    private static EngineRequest Request(string user) => new(
        new GatewayPrincipal(user),
        new EngineKey { ShareLevel = ShareLevel.User, Owner = user },
        Guid.NewGuid().ToString(),
        new Dictionary<string, string>(),
        null);

    private static Task<ConfigResponse> ConfigAsync(Uri address, string? authorization)
    {
        var channel = GrpcChannel.ForAddress(address);
        var client = new SparkConnectService.SparkConnectServiceClient(channel);
        var headers = new Metadata();
        if (authorization is not null)
        {
            headers.Add("authorization", authorization);
        }

        var request = new ConfigRequest
        {
            SessionId = Guid.NewGuid().ToString(),
            UserContext = new UserContext { UserId = "mallory", UserName = "mallory" },
            Operation = new() { Get = new() { Keys = { "spark.sql.session.timeZone" } } },
        };
        return client.ConfigAsync(request, headers).ResponseAsync.ContinueWith(t => { channel.Dispose(); return t; }, TaskScheduler.Default).Unwrap();
    }

    [TestMethod]
    public async Task EmbeddedEngine_CallWithoutItsToken_IsUnauthenticated()
    {
        await using var locator = new LocalEngineLocator(Options.Create(new LocalEngineOptions()), NullLoggerFactory.Instance);
        var alice = await locator.LocateAsync(Request("alice"), CancellationToken.None);
        var bob = await locator.LocateAsync(Request("bob"), CancellationToken.None);

        Assert.IsNotNull(alice.AccessToken);
        Assert.AreEqual(64, alice.AccessToken.Length);
        Assert.AreNotEqual(alice.AccessToken, bob.AccessToken, "every engine has its own token");
        foreach (var authorization in new[] { null, "", "Bearer ", "Bearer wrong", $"Bearer {bob.AccessToken}", $"Bearer {alice.AccessToken[..^1]}", alice.AccessToken, $"Basic {alice.AccessToken}" })
        {
            var error = await Assert.ThrowsExactlyAsync<RpcException>(() => ConfigAsync(alice.Address, authorization), authorization ?? "(none)");
            Assert.AreEqual(StatusCode.Unauthenticated, error.StatusCode, authorization ?? "(none)");
            Assert.DoesNotContain(alice.AccessToken, error.Status.Detail);
        }

        var answer = await ConfigAsync(alice.Address, $"Bearer {alice.AccessToken}");
        Assert.AreEqual("UTC", answer.Pairs.Single().Value);
    }

    [TestMethod]
    public async Task Gateway_PresentsTheEmbeddedEnginesToken_WhileDirectCallsAreRefused()
    {
        var client = SharedGateway.Host.Client("alice");
        var (_, rows, _) = await client.QueryAsync("SELECT 7");
        Assert.AreEqual(7, rows.Single()[0]);

        var session = await SharedGateway.Host.Services.GetRequiredService<ISessionStore>().GetAsync(client.SessionId, CancellationToken.None);
        Assert.IsNotNull(session);
        var error = await Assert.ThrowsExactlyAsync<RpcException>(() => ConfigAsync(session.EngineAddress, "Bearer alice-token-0123456789abcdef"));
        Assert.AreEqual(StatusCode.Unauthenticated, error.StatusCode);
    }

    [TestMethod]
    public async Task StartAsync_BeyondLoopbackWithoutToken_Throws()
    {
        var error = await Assert.ThrowsExactlyAsync<ArgumentException>(() => LocalSparkConnectEngine.StartAsync(new LocalEngineOptions(), new LocalEngineListenOptions { Address = IPAddress.Any }));
        StringAssert.Contains(error.Message, "without an access token");
        var weak = await Assert.ThrowsExactlyAsync<ArgumentException>(() => LocalSparkConnectEngine.StartAsync(new LocalEngineOptions(), new LocalEngineListenOptions { AccessToken = "short" }));
        StringAssert.Contains(weak.Message, "at least 16 characters");
    }

    [TestMethod]
    public async Task HostSample_BeyondLoopbackWithoutToken_ExitsWithMessage()
    {
        using var process = Process.Start(HostStartInfo(["--host", "0.0.0.0", "--port", "0"], token: null))!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = await process.StandardError.ReadToEndAsync(timeout.Token) + await output;
            await process.WaitForExitAsync(timeout.Token);

            Assert.AreEqual(2, process.ExitCode, error);
            StringAssert.Contains(error, "without an access token");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [TestMethod]
    public async Task HostSample_WithTokenFromEnvironment_RefusesCallsWithoutIt()
    {
        var token = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

        // Port 0: the host prints the address the kernel gave it.
        await using var host = await ServerProcess.StartListeningAsync(HostStartInfo(["--port", "0"], token), "local engine host", TimeSpan.FromSeconds(60), CancellationToken.None);
        var address = host.ListeningAddresses.Single();

        var error = await Assert.ThrowsExactlyAsync<RpcException>(() => ConfigAsync(address, null));
        Assert.AreEqual(StatusCode.Unauthenticated, error.StatusCode);
        Assert.AreEqual("UTC", (await ConfigAsync(address, $"Bearer {token}")).Pairs.Single().Value);
        Assert.DoesNotContain(token, host.Output, "the token is never printed or logged");
    }

    private static ProcessStartInfo HostStartInfo(string[] arguments, string? token)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(HostDll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("SPARK_CONNECT_AUTHENTICATE_TOKEN");
        if (token is not null)
        {
            start.Environment["SPARK_CONNECT_AUTHENTICATE_TOKEN"] = token;
        }

        return start;
    }
}
