extern alias Testing;

using System.Runtime.CompilerServices;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Hosting;
using SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Hosting;

/// <summary>Clients choose engine keys (subdomains, CONNECTION share level): the engines they cost must stay bounded.</summary>
[TestClass]
public sealed class LocalEngineLimitsTests
{
    private static EngineRequest Request(string user, ShareLevel level = ShareLevel.User, string subdomain = EngineKey.DefaultSubdomain)
    {
        var sessionId = Guid.NewGuid().ToString();
        return new(new GatewayPrincipal(user), new EngineKey { ShareLevel = level, Owner = level == ShareLevel.Connection ? sessionId : user, Subdomain = subdomain }, sessionId, new Dictionary<string, string>(), null);
    }

    [TestMethod]
    public async Task Gateway_ManySessionsWithDistinctSubdomainsAndConnectionShare_EnginesBoundedThenResourceExhausted()
    {
        await using var host = await LocalGateway.StartAsync(o => { o.MaxEngines = 3; o.MaxEnginesPerUser = 2; });
        // 1,000 new sessions, each on an engine key of its own (half a new subdomain, half CONNECTION share), 50 at a time.
        var results = new List<(StatusCode Status, string Message)>();
        for (var batch = 0; batch < 20; batch++)
        {
            results.AddRange(await Task.WhenAll(Enumerable.Range(batch * 50, 50).Select(async i =>
            {
                var client = host.Client("alice");
                var headers = client.Headers;
                headers.Add(i % 2 == 0 ? "subdomain" : "share_level", i % 2 == 0 ? $"s{i}" : "CONNECTION");
                try
                {
                    await client.Raw.ConfigAsync(new ConfigRequest { SessionId = client.SessionId, UserContext = client.UserContext, Operation = new() { GetAll = new() } }, headers);
                    return (StatusCode.OK, "");
                }
                catch (RpcException error)
                {
                    return (error.StatusCode, error.Status.Detail);
                }
            })));
        }

        var statuses = results.Select(r => r.Status).ToList();
        var messages = results.Where(r => r.Status != StatusCode.OK).Select(r => r.Message).ToList();
        Assert.AreEqual(2, statuses.Count(s => s == StatusCode.OK), string.Join(", ", statuses));
        Assert.AreEqual(998, statuses.Count(s => s == StatusCode.ResourceExhausted), string.Join(", ", statuses.Distinct()));
        Assert.IsTrue(messages.All(m => m.Contains("MaxEnginesPerUser", StringComparison.Ordinal)), messages.FirstOrDefault());
        Assert.AreEqual(2, host.Locator.Count);

        // alice's own engine (USER share, default subdomain) is a third key: refused too; bob still gets one.
        await Assert.ThrowsExactlyAsync<RpcException>(() => host.Client("alice").QueryAsync("SELECT 1"));
        var (_, rows, _) = await host.Client("bob").QueryAsync("SELECT 1");
        Assert.AreEqual(1, rows.Single()[0]);
        Assert.AreEqual(3, host.Locator.Count);
    }

    [TestMethod]
    public async Task LocateAsync_PastMaxEngines_ResourceExhaustedNamingTheOption()
    {
        await using var locator = new LocalEngineLocator(Options.Create(new LocalEngineOptions { MaxEngines = 2, MaxEnginesPerUser = 2 }), NullLoggerFactory.Instance);
        await locator.LocateAsync(Request("alice"), CancellationToken.None);
        await locator.LocateAsync(Request("bob"), CancellationToken.None);
        var error = await Assert.ThrowsExactlyAsync<EngineLocationException>(() => locator.LocateAsync(Request("carol"), CancellationToken.None).AsTask());
        Assert.AreEqual(StatusCode.ResourceExhausted, error.StatusCode);
        StringAssert.Contains(error.Message, "SparkConnectGateway:LocalEngine:MaxEngines");

        // A key that already has its engine is no new engine: never refused.
        var again = await locator.LocateAsync(Request("alice"), CancellationToken.None);
        StringAssert.StartsWith(again.Id, "local:USER/alice/default:");
        Assert.AreEqual(2, locator.Count);
    }

    [TestMethod]
    public async Task CheckIdleAsync_EngineWithoutSessionPastIdleTimeout_IsStoppedAndForgotten()
    {
        var store = new FixedSessionStore();
        var options = new LocalEngineOptions { EngineIdleTimeout = TimeSpan.FromMilliseconds(300) };
        await using var locator = new LocalEngineLocator(Options.Create(options), NullLoggerFactory.Instance, store);
        var idle = await locator.LocateAsync(Request("alice"), CancellationToken.None);
        var busy = await locator.LocateAsync(Request("bob"), CancellationToken.None);
        store.Sessions.Add(new SessionRecord { SessionId = Guid.NewGuid().ToString(), Owner = "bob", EngineKey = new EngineKey { ShareLevel = ShareLevel.User, Owner = "bob", Subdomain = "default" }, EngineId = busy.Id, EngineAddress = busy.Address, CreatedAt = DateTimeOffset.UtcNow, LastActivity = DateTimeOffset.UtcNow });

        Assert.AreEqual(0, await locator.CheckIdleAsync(CancellationToken.None), "not idle long enough yet");
        await Task.Delay(500);
        Assert.AreEqual(1, await locator.CheckIdleAsync(CancellationToken.None));
        Assert.AreEqual(1, locator.Count);

        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await Assert.ThrowsExactlyAsync<System.Net.Sockets.SocketException>(() => tcp.ConnectAsync(idle.Address.Host, idle.Address.Port));
        }

        // The stopped engine is gone from the locator: the key gets a new engine.
        var restarted = await locator.LocateAsync(Request("alice"), CancellationToken.None);
        Assert.AreNotEqual(idle.Id, restarted.Id);
        Assert.AreEqual(busy.Id, (await locator.LocateAsync(Request("bob"), CancellationToken.None)).Id, "an engine with a session stays");
    }

    [TestMethod]
    public async Task Gateway_ReleasedSessionsEngine_StopsWhenIdleAndRoomIsMadeAgain()
    {
        await using var host = await LocalGateway.StartAsync(o =>
        {
            o.MaxEngines = 1;
            o.MaxEnginesPerUser = 1;
            o.EngineIdleTimeout = TimeSpan.FromMilliseconds(500);
            o.IdleCheckInterval = TimeSpan.FromMilliseconds(100);
        });
        var alice = host.Client("alice");
        await alice.SqlAsync("CREATE TABLE idle_marker AS SELECT 1 AS v");
        var error = await Assert.ThrowsExactlyAsync<RpcException>(() => host.Client("bob").QueryAsync("SELECT 1"));
        Assert.AreEqual(StatusCode.ResourceExhausted, error.StatusCode);

        await alice.Raw.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = alice.SessionId, UserContext = alice.UserContext }, alice.Headers);
        Assert.IsTrue(await Testing::SparkConnect.Multiplexer.Testing.Polling.EventuallyAsync(() => host.Locator.Count == 0, TimeSpan.FromSeconds(20)), "the idle engine was not stopped");
        var (_, rows, _) = await host.Client("bob").QueryAsync("SELECT 2");
        Assert.AreEqual(2, rows.Single()[0]);
    }

    [TestMethod]
    public async Task Gateway_EngineWithLiveSession_OutlivesIdleTimeout()
    {
        await using var host = await LocalGateway.StartAsync(o =>
        {
            o.EngineIdleTimeout = TimeSpan.FromMilliseconds(300);
            o.IdleCheckInterval = TimeSpan.FromMilliseconds(100);
        });
        var alice = host.Client("alice");
        await alice.SqlAsync("CREATE TABLE still_here AS SELECT 1 AS v");
        await Task.Delay(1500);

        // The gateway's session store still has alice's session on the engine: it is not idle.
        Assert.AreEqual(1, host.Locator.Count);
        var (_, rows, _) = await alice.QueryAsync("SELECT v FROM still_here");
        Assert.AreEqual(1, rows.Single()[0]);
        Assert.IsNotNull(typeof(LocalEngineLocator).GetField("_lifecycle", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(host.Locator), "the gateway's engine lifecycle must be injected");
    }

    [TestMethod]
    public void Options_LimitsInvalid_ReportEachWithFix()
    {
        var errors = new LocalEngineOptions { MaxEngines = 0, MaxEnginesPerUser = 0, EngineIdleTimeout = TimeSpan.Zero, IdleCheckInterval = TimeSpan.Zero }.Validate();
        Assert.HasCount(4, errors);
        Assert.IsTrue(errors.Any(e => e.Contains("MaxEngines is 0", StringComparison.Ordinal) && e.Contains("default 32", StringComparison.Ordinal)));
        Assert.IsTrue(errors.Any(e => e.Contains("MaxEnginesPerUser is 0", StringComparison.Ordinal) && e.Contains("default 4", StringComparison.Ordinal)));
        Assert.HasCount(1, new LocalEngineOptions { MaxEngines = 2, MaxEnginesPerUser = 3 }.Validate());
        Assert.AreEqual(32, new LocalEngineOptions().MaxEngines);
        Assert.AreEqual(4, new LocalEngineOptions().MaxEnginesPerUser);
    }

    /// <summary>A session store whose sessions the test sets.</summary>
    private sealed class FixedSessionStore : ISessionStore
    {
        public List<SessionRecord> Sessions { get; } = [];

        public ValueTask<SessionClaim> ClaimAsync(SessionRecord candidate, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask<SessionRecord?> GetAsync(string sessionId, CancellationToken cancellationToken) => ValueTask.FromResult(Sessions.Find(s => s.SessionId == sessionId));

        public ValueTask TouchAsync(string sessionId, DateTimeOffset timestamp, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask<SessionRecord?> RemoveAsync(string sessionId, CancellationToken cancellationToken) => throw new NotSupportedException();

        public async IAsyncEnumerable<SessionRecord> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            foreach (var session in Sessions.ToList())
            {
                yield return session;
            }
        }
    }
}
