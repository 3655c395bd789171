using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Google.Protobuf;
using Grpc.Core;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Security;

/// <summary>
/// Findings 2, 6 and 7: before a call is authenticated the gateway reads nothing (header credentials) or a bounded
/// prefix (claimed-user authenticators); calls that never send their message are timed out; and the failed-
/// authentication throttle keys on the claimed user and address, so one guesser cannot lock out an office.
/// </summary>
[TestClass]
public sealed class PreAuthenticationTests
{
    private const string Config = "/spark.connect.SparkConnectService/Config";

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task HeaderOnlyStreamWithoutCredential_IsRefusedAtOnce()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);

        // The body never comes: a gateway that reads before it authenticates would wait for it.
        var stopwatch = Stopwatch.StartNew();
        var result = await RawHttp2.PostAsync(gateway.Address, Config, new StallingContent([]), token: null, Cancel);

        Assert.AreEqual(StatusCode.Unauthenticated, result.Status, result.Message);
        Assert.IsLessThan(TimeSpan.FromSeconds(10), stopwatch.Elapsed);
    }

    [TestMethod]
    [DoNotParallelize] // It measures the whole process's allocations: other test classes must not run meanwhile.
    public async Task GzipBombsWithoutCredential_AreNeverInflated()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var bomb = RawHttp2.Frame(RawHttp2.Gzip(new byte[100 * 1024 * 1024]), compressed: true);

        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        for (var i = 0; i < 20; i++)
        {
            var result = await RawHttp2.PostAsync(gateway.Address, Config, bomb, "not-a-token-anyone-has", Cancel, ("grpc-encoding", "gzip"));
            Assert.AreEqual(StatusCode.Unauthenticated, result.Status, result.Message);
        }

        // Inflating each bomb would allocate 100 MiB: twenty of them, 2 GiB. Refusing from the headers allocates little.
        var allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;
        Assert.IsLessThan(200L * 1024 * 1024, allocated, $"{allocated / (1024 * 1024)} MiB allocated for 20 refused calls");
    }

    [TestMethod]
    [DoNotParallelize] // It measures the whole process's allocations: other test classes must not run meanwhile.
    public async Task ClaimedUserAuthenticator_ReadsOnlyABoundedPrefix()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var authenticator = new PasswordAuthenticator();
        await using var gateway = await GatewayHost.StartAsync(
            o => o.Engines.Default = new StaticEngineOptions { Address = engine.Address.ToString() },
            build: b => b.Services.AddSingleton<IAuthenticator>(authenticator));

        // A bomb whose user context sits where clients put it: the prefix has it, the rest is never inflated.
        var message = new ConfigRequest { SessionId = GatewayHost.NewSessionId(), UserContext = new UserContext { UserId = "mallory" }, ClientType = new string('x', 50 * 1024 * 1024) }.ToByteArray();
        var bomb = RawHttp2.Frame(RawHttp2.Gzip(message), compressed: true);
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        var refused = await RawHttp2.PostAsync(gateway.Address, Config, bomb, "wrong-password", Cancel, ("grpc-encoding", "gzip"));

        Assert.AreEqual(StatusCode.Unauthenticated, refused.Status, refused.Message);
        Assert.AreEqual("mallory", authenticator.LastClaimedUser);
        var allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;
        Assert.IsLessThan(40L * 1024 * 1024, allocated, $"{allocated / (1024 * 1024)} MiB allocated");
    }

    [TestMethod]
    public async Task StalledRequest_EndsWithDeadlineExceededAfterFirstMessageTimeout()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.FirstMessageTimeout = TimeSpan.FromSeconds(1));

        // Authenticated, then half a frame and silence; and a unary request whose stream never ends.
        var halfFrame = RawHttp2.Frame(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }.ToByteArray())[..10];
        var stalled = await RawHttp2.PostAsync(gateway.Address, Config, new StallingContent(halfFrame), GatewayHost.AliceToken, Cancel);
        var unended = await RawHttp2.PostAsync(gateway.Address, Config, new StallingContent(RawHttp2.Frame(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }.ToByteArray())), GatewayHost.AliceToken, Cancel);

        Assert.AreEqual(StatusCode.DeadlineExceeded, stalled.Status, stalled.Message);
        StringAssert.Contains(stalled.Message, "FirstMessageTimeout");
        Assert.AreEqual(StatusCode.DeadlineExceeded, unended.Status, unended.Message);
        Assert.IsEmpty(engine.Calls);
    }

    [TestMethod]
    public async Task StalledRequestInTrialMode_EndsWithDeadlineExceeded()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o =>
        {
            o.Authentication.Mode = GatewayAuthenticationMode.None;
            o.FirstMessageTimeout = TimeSpan.FromSeconds(1);
        });

        var result = await RawHttp2.PostAsync(gateway.Address, Config, new StallingContent([]), token: null, Cancel);

        Assert.AreEqual(StatusCode.DeadlineExceeded, result.Status, result.Message);
    }

    [TestMethod]
    public async Task TrialMode_NeverThrottles()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o =>
        {
            o.Authentication.Mode = GatewayAuthenticationMode.None;
            o.Authentication.Throttle.MaxFailures = 2;
            o.Authentication.Throttle.MaxFailuresPerAddress = 2;
        });

        for (var i = 0; i < 10; i++)
        {
            var refused = await Assert.ThrowsExactlyAsync<RpcException>(async () => await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer("whatever-token"), cancellationToken: Cancel));
            StringAssert.Contains(refused.Status.Detail, ";user_id=alice");
            StringAssert.Contains(refused.Status.Detail, "own API", "a hint for clients that do not read sc:// parameters");
        }

        var alice = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId(), UserContext = new UserContext { UserId = "alice" } }, cancellationToken: Cancel);
        Assert.AreEqual("engine-a", alice.ServerSideSessionId);
    }

    [TestMethod]
    public async Task CallsWithoutCredential_AreNotGuesses()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o =>
        {
            o.Authentication.Throttle.MaxFailures = 2;
            o.Authentication.Throttle.MaxFailuresPerAddress = 2;
        });

        for (var i = 0; i < 10; i++)
        {
            await Assert.ThrowsExactlyAsync<RpcException>(async () => await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, cancellationToken: Cancel));
        }

        var alice = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel);
        Assert.AreEqual("engine-a", alice.ServerSideSessionId);
    }

    [TestMethod]
    public async Task GuessesForOneUser_DoNotLockOutOthersBehindTheSameAddress()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var authenticator = new PasswordAuthenticator();
        await using var gateway = await GatewayHost.StartAsync(
            o =>
            {
                o.Engines.Default = new StaticEngineOptions { Address = engine.Address.ToString() };
                o.Authentication.Throttle.MaxFailures = 3;
                o.Authentication.Throttle.MaxFailuresPerAddress = 8;
            },
            build: b => b.Services.AddSingleton<IAuthenticator>(authenticator));

        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsExactlyAsync<RpcException>(() => CallAsUser(gateway, "carol", "guess-" + i));
        }

        var carolLocked = await Assert.ThrowsExactlyAsync<RpcException>(() => CallAsUser(gateway, "carol", PasswordAuthenticator.PasswordOf("carol")));
        StringAssert.Contains(carolLocked.Status.Detail, "Too many failed authentication attempts");
        Assert.AreEqual(3, authenticator.Checks, "a throttled user's password is not checked");

        // dave, behind the same address, is unaffected...
        await CallAsUser(gateway, "dave", PasswordAuthenticator.PasswordOf("dave"));

        // ...until guesses over many users reach the address-wide ceiling.
        for (var i = 0; i < 5; i++)
        {
            await Assert.ThrowsExactlyAsync<RpcException>(() => CallAsUser(gateway, "user" + i, "guess"));
        }

        var daveLocked = await Assert.ThrowsExactlyAsync<RpcException>(() => CallAsUser(gateway, "dave", PasswordAuthenticator.PasswordOf("dave")));
        StringAssert.Contains(daveLocked.Status.Detail, "Too many failed authentication attempts");
    }

    [TestMethod]
    public async Task PrincipalWithControlCharacters_IsRefused()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Authentication.Mode = GatewayAuthenticationMode.None);

        foreach (var user in new[] { "alice\nINFO forged line", " alice", "alice ", "ali\u200Bce", "ali\u00A0ce" })
        {
            var refused = await Assert.ThrowsExactlyAsync<RpcException>(async () => await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId(), UserContext = new UserContext { UserId = user } }, cancellationToken: Cancel));
            Assert.AreEqual(StatusCode.Unauthenticated, refused.StatusCode, user);
        }

        Assert.IsEmpty(engine.Calls);
        Assert.IsFalse(gateway.Logs.Entries.Any(e => e.Message.Contains("INFO forged line", StringComparison.Ordinal) && e.Message.Contains('\n', StringComparison.Ordinal)));
    }

    private static async Task CallAsUser(GatewayHost gateway, string user, string password)
        => await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId(), UserContext = new UserContext { UserId = user } }, GatewayHost.Bearer(password), cancellationToken: CancellationToken.None);

    /// <summary>A stand-in for a directory bind: the password of user u is "pw-u"; it needs the claimed user id.</summary>
    private sealed class PasswordAuthenticator : IAuthenticator
    {
        private int _checks;

        public int Checks => _checks;

        public string? LastClaimedUser { get; private set; }

        public static string PasswordOf(string user) => "pw-" + user;

        public async ValueTask<AuthenticationResult> AuthenticateAsync(AuthenticationContext context, CancellationToken cancellationToken)
        {
            if (context.BearerToken is not { } password || await context.ReadClaimedUserIdAsync(cancellationToken) is not { } user)
            {
                return AuthenticationResult.NoResult();
            }

            LastClaimedUser = user;
            Interlocked.Increment(ref _checks);
            return password == PasswordOf(user) ? AuthenticationResult.Success(new GatewayPrincipal(user)) : AuthenticationResult.Refuse("Invalid user or password.");
        }
    }
}
