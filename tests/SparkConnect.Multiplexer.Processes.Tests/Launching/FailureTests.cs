using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using SparkConnect.Multiplexer.Processes.Tests.Infrastructure;
using static SparkConnect.Multiplexer.Processes.Tests.Infrastructure.LaunchingGateway;

using SparkConnect.Multiplexer.Testing;
using static SparkConnect.Multiplexer.Testing.Polling;

namespace SparkConnect.Multiplexer.Processes.Tests.Launching;

[TestClass]
public sealed class FailureTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task EngineNeverReady_InitializationTimeout_UnavailableWithLogTail_AndProcessGone()
    {
        await using var gateway = await StartAsync(o =>
        {
            o.Command = "/bin/sh";
            o.Arguments.Clear();
            o.Arguments.Add("-c");
            o.Arguments.Add("echo starting engine; sleep 600");
            o.Arguments.Add("engine-{port}");
            o.InitializationTimeout = TimeSpan.FromSeconds(3);
        });

        var error = await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync);

        Assert.AreEqual(StatusCode.Unavailable, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "USER/alice/default");
        StringAssert.Contains(error.Status.Detail, "did not become ready within 3 s");
        StringAssert.Contains(error.Status.Detail, "starting engine");
        var processId = gateway.Engines.StartedProcessIds.Single();
        Assert.IsFalse(IsAlive(processId), "the launcher was killed");
        Assert.IsEmpty(EngineProcesses.Under(gateway.WorkRoot), "with its process tree");
        Assert.IsEmpty(gateway.Engines.Engines);
    }

    [TestMethod]
    public async Task EngineExitsBeforeReady_UnavailableWithExitCodeAndLogTail_AtOnce()
    {
        await using var gateway = await StartAsync(o =>
        {
            o.Command = "/bin/sh";
            o.Arguments.Clear();
            o.Arguments.Add("-c");
            o.Arguments.Add("echo boom >&2; exit 3");
            o.Arguments.Add("engine-{port}");
            o.LaunchFailureBackoff = TimeSpan.Zero;
        });
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var error = await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync);

        Assert.AreEqual(StatusCode.Unavailable, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "exited with code 3");
        StringAssert.Contains(error.Status.Detail, "boom");
        Assert.IsTrue(watch.Elapsed < TimeSpan.FromSeconds(30), "not after the initialization timeout (60 s)");

        // Without a back-off the next session tries again.
        await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync);
        Assert.HasCount(2, gateway.Engines.StartedProcessIds);
    }

    [TestMethod]
    public async Task EngineAlwaysFails_RetriesWithinTheBackoff_NoNewProcessAndRetryInfo_ThenTriedAgain()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await StartAsync(
            o =>
            {
                o.Command = "/bin/sh";
                o.Arguments.Clear();
                o.Arguments.Add("-c");
                o.Arguments.Add("echo broken template >&2; exit 3");
                o.Arguments.Add("engine-{port}");
                o.LaunchFailureBackoff = TimeSpan.FromSeconds(10);
            },
            services => services.AddSingleton<TimeProvider>(clock));
        await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync);

        // A client retrying at once, as PySpark does after 50 ms, five times.
        for (var retry = 0; retry < 5; retry++)
        {
            var refused = await Assert.ThrowsExactlyAsync<RpcException>(
                () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync);
            Assert.AreEqual(StatusCode.Unavailable, refused.StatusCode);
            StringAssert.Contains(refused.Status.Detail, "LaunchFailureBackoff");
            StringAssert.Contains(refused.Status.Detail, "exited with code 3");
            Assert.IsTrue(HasRetryInfo(refused), "the wait is said with google.rpc.RetryInfo");
        }

        Assert.HasCount(1, gateway.Engines.StartedProcessIds, "no process forked per retry");

        // Bob's key is not held back by alice's.
        await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Bob, cancellationToken: Cancel).ResponseAsync);
        Assert.HasCount(2, gateway.Engines.StartedProcessIds);

        // After the back-off the next session tries again, and the one after that waits twice as long.
        clock.Advance(TimeSpan.FromSeconds(10));
        await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync);
        Assert.HasCount(3, gateway.Engines.StartedProcessIds);
        clock.Advance(TimeSpan.FromSeconds(10));
        var doubled = await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync);
        StringAssert.Contains(doubled.Status.Detail, "last 2 launch(es) in a row failed");
        Assert.HasCount(3, gateway.Engines.StartedProcessIds);
    }

    private static bool HasRetryInfo(RpcException e)
        => e.Trailers.GetValueBytes("grpc-status-details-bin") is { } details
            && System.Text.Encoding.ASCII.GetString(details).Contains("type.googleapis.com/google.rpc.RetryInfo", StringComparison.Ordinal);

    [TestMethod]
    public async Task LauncherPrintsSecretsAndItsToken_ThenFails_ClientAndLogSeeThemMasked()
    {
        // A launcher that echoes its command line (as spark-submit --verbose and many wrapper scripts do), its own
        // token without any key in front of it, and JSON and YAML-ish settings, then fails.
        const string Script = """
            echo "Launching: spark-submit --conf spark.hadoop.fs.s3a.access.key=AKIAEXAMPLE --conf spark.hadoop.fs.s3a.secret.key=s3cr3tValue -Djavax.net.ssl.keyStorePassword=kspass123 --conf spark.connect.authenticate.token=$ENGINE_TOKEN --conf spark.executor.memory=4g"
            echo "engine token is $ENGINE_TOKEN"
            echo '{"db.password": "jsonPass9", "user": "alice"}'
            echo "fs.azure.account.credential: credValue7"
            echo "$ENGINE_TOKEN" > token.txt
            exit 7
            """;
        await using var gateway = await StartAsync(o =>
        {
            o.Command = "/bin/sh";
            o.Arguments.Clear();
            o.Arguments.Add("-c");
            o.Arguments.Add(Script);
            o.Arguments.Add("engine-{port}");
            o.Environment["ENGINE_TOKEN"] = "{engineToken}";
        });

        var error = await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync);

        var token = File.ReadAllText(Directory.GetFiles(gateway.WorkRoot, "token.txt", SearchOption.AllDirectories).Single()).Trim();
        Assert.AreEqual(64, token.Length, "the launcher saw its token");
        Assert.AreEqual(StatusCode.Unavailable, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "exited with code 7");
        StringAssert.Contains(error.Status.Detail, "spark.hadoop.fs.s3a.access.key=***");
        StringAssert.Contains(error.Status.Detail, "spark.executor.memory=4g", "other settings stay readable");
        StringAssert.Contains(error.Status.Detail, "engine token is ***");
        var logged = string.Join(Environment.NewLine, gateway.Host.Logs.Entries.Select(e => e.Message));
        StringAssert.Contains(logged, "exited with code 7", "the failure is logged");
        foreach (var secret in new[] { "AKIAEXAMPLE", "s3cr3tValue", "kspass123", "jsonPass9", "credValue7", token })
        {
            Assert.DoesNotContain(secret, error.Status.Detail, "the client's error message");
            Assert.DoesNotContain(secret, logged, "the gateway log");
        }
    }

    [TestMethod]
    public async Task LongLogLine_ShortenedAfterRedaction_NoPartOfTheTokenShown()
    {
        // The token starts 991 characters into a 2,000-character line: shortening first would show its beginning.
        await using var gateway = await StartAsync(o =>
        {
            o.Command = "/bin/sh";
            o.Arguments.Clear();
            o.Arguments.Add("-c");
            o.Arguments.Add("head -c 990 /dev/zero | tr '\\0' x; echo \" $ENGINE_TOKEN $(head -c 1000 /dev/zero | tr '\\0' y)\"; echo \"$ENGINE_TOKEN\" > token.txt; exit 2");
            o.Arguments.Add("engine-{port}");
            o.Environment["ENGINE_TOKEN"] = "{engineToken}";
        });

        var error = await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync);

        var token = File.ReadAllText(Directory.GetFiles(gateway.WorkRoot, "token.txt", SearchOption.AllDirectories).Single()).Trim();
        StringAssert.Contains(error.Status.Detail, new string('x', 990) + " *** yyy");
        StringAssert.Contains(error.Status.Detail, "more characters)");
        Assert.DoesNotContain(token[..8], error.Status.Detail);
        Assert.IsLessThan(1200, error.Status.Detail.Length, "one long line does not make a long message");
    }

    [TestMethod]
    public async Task CommandThatCannotRun_FailedPrecondition()
    {
        await using var gateway = await StartAsync(o => o.Command = "/nonexistent/spark-submit");

        var error = await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel).ResponseAsync);

        Assert.AreEqual(StatusCode.FailedPrecondition, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "/nonexistent/spark-submit");
    }

    [TestMethod]
    public async Task EngineKilledMidUse_OldSessionGetsEngineLost_NewSessionGetsFreshEngine()
    {
        await using var gateway = await StartAsync(static _ => { });
        var session = GatewayHost.NewSessionId();
        var first = await gateway.Client.ConfigAsync(GetAll(session), Alice, cancellationToken: Cancel);
        var processId = gateway.Engines.StartedProcessIds.Single();

        using (var process = System.Diagnostics.Process.GetProcessById(processId))
        {
            process.Kill();
        }

        Assert.IsTrue(
            await EventuallyAsync(() => gateway.Registry.IsLostFor(first.ServerSideSessionId, DateTimeOffset.MinValue, out _), TimeSpan.FromSeconds(15)),
            "the exit was noticed");
        var lost = await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(session), Alice, cancellationToken: Cancel).ResponseAsync);
        Assert.AreEqual(StatusCode.Unavailable, lost.StatusCode);
        StringAssert.Contains(lost.Status.Detail, "Engine lost");
        StringAssert.Contains(lost.Status.Detail, "exited with code");

        var fresh = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel);
        Assert.AreNotEqual(first.ServerSideSessionId, fresh.ServerSideSessionId);
        StringAssert.StartsWith(fresh.ServerSideSessionId, "process:USER/alice/default:");
        Assert.HasCount(2, gateway.Engines.StartedProcessIds);
        Assert.IsTrue(gateway.Host.Logs.Entries.Any(e => e.Message.Contains($"Engine {first.ServerSideSessionId} for USER/alice/default exited with code", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task MaxEngines_Reached_ResourceExhausted()
    {
        await using var gateway = await StartAsync(o => o.MaxEngines = 1);
        await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel);

        var error = await Assert.ThrowsExactlyAsync<RpcException>(
            () => gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Bob, cancellationToken: Cancel).ResponseAsync);

        Assert.AreEqual(StatusCode.ResourceExhausted, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "MaxEngines");
        Assert.HasCount(1, gateway.Engines.StartedProcessIds);

        // Alice's engine still serves her new sessions.
        await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: Cancel);
    }
}
