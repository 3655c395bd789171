using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Management;

// The Prometheus exporter listens to every meter of its name in the process: this class must not overlap with itself.
[TestClass]
[DoNotParallelize]
public sealed class ManagementEndpointTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task Healthz_AnswersOk()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var host = await ManagementHost.StartAsync(engine);

        using var response = await host.Http.GetAsync("/healthz", Cancel);

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
    }

    [TestMethod]
    public async Task Readyz_WhenReady_AnswersOk()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var host = await ManagementHost.StartAsync(engine);

        using var response = await host.Http.GetAsync("/readyz", Cancel);

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, await response.Content.ReadAsStringAsync(Cancel));
    }

    [TestMethod]
    public async Task Readyz_OnceShutdownStarts_Answers503WhileListenersStayOpen()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var host = await ManagementHost.StartAsync(engine, o => o.ShutdownDelay = TimeSpan.FromMinutes(5));
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(Cancel);

        // Shutdown starts (readiness turns at once) and then waits out the delay with its listeners open.
        var stop = host.App.StopAsync(stopping.Token);
        using var response = await host.Http.GetAsync("/readyz", Cancel);
        var body = await response.Content.ReadAsStringAsync(Cancel);
        var call = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await host.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel));
        await stopping.CancelAsync();
        try
        {
            await stop;
        }
        catch (OperationCanceledException)
        {
        }

        Assert.AreEqual(HttpStatusCode.ServiceUnavailable, response.StatusCode, body);
        StringAssert.Contains(body, "shutting down");
        Assert.AreEqual(StatusCode.Unavailable, call.StatusCode, "new calls are sent elsewhere meanwhile");
    }

    [TestMethod]
    public async Task Metrics_AfterCalls_ServesPrometheusTextWithRpcConventions()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var host = await ManagementHost.StartAsync(engine);
        var aliceSession = GatewayHost.NewSessionId();
        await host.Client.ConfigAsync(new ConfigRequest { SessionId = aliceSession }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel);
        await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await host.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer("not-a-token-0123456789"), cancellationToken: Cancel));
        await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await host.Client.ConfigAsync(new ConfigRequest { SessionId = aliceSession }, GatewayHost.Bearer(GatewayHost.BobToken), cancellationToken: Cancel));

        using var response = await host.Http.GetAsync("/metrics", Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        StringAssert.StartsWith(response.Content.Headers.ContentType?.MediaType, "text/plain");
        StringAssert.Contains(text, "# TYPE spark_connect_gateway_calls_total counter");
        var configCalls = text.Split('\n').Where(l => l.StartsWith("spark_connect_gateway_calls_total{", StringComparison.Ordinal) && l.Contains("rpc_method=\"Config\"", StringComparison.Ordinal)).ToList();
        Assert.IsTrue(configCalls.Any(l => l.Contains("rpc_grpc_status_code=\"0\"", StringComparison.Ordinal) && l.Contains("rpc_system=\"grpc\"", StringComparison.Ordinal) && l.Contains("rpc_service=\"spark.connect.SparkConnectService\"", StringComparison.Ordinal)), text);
        StringAssert.Contains(text, "spark_connect_gateway_sessions_opened_total");
        Assert.IsTrue(text.Split('\n').Any(l => l.StartsWith("spark_connect_gateway_authentication_failures_total{", StringComparison.Ordinal) && l.Contains("reason=\"invalid_credential\"", StringComparison.Ordinal)), text);
        StringAssert.Contains(text, "spark_connect_gateway_call_duration_seconds_bucket");
        Assert.IsTrue(text.Split('\n').Any(l => l.StartsWith("spark_connect_gateway_refusals_total{", StringComparison.Ordinal) && l.Contains("reason=\"ownership\"", StringComparison.Ordinal)), text);
    }

    [TestMethod]
    public async Task AdminApi_WithoutCredential_Answers401ProblemDetails()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var host = await ManagementHost.StartAsync(engine);

        using var response = await host.SendAsync(HttpMethod.Get, "/api/v1/admin/sessions", token: null, cancellationToken: Cancel);

        Assert.AreEqual(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.AreEqual("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.AreEqual("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [TestMethod]
    public async Task AdminApi_ForANonAdministrator_Answers403()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var host = await ManagementHost.StartAsync(engine);

        using var response = await host.SendAsync(HttpMethod.Get, "/api/v1/admin/sessions", GatewayHost.BobToken, cancellationToken: Cancel);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);

        Assert.AreEqual(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.AreEqual("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        StringAssert.Contains(problem.GetProperty("detail").GetString(), "SparkConnectGateway:Admin:Users");
        Assert.IsTrue(host.Logs.Entries.Any(e => e.Message.StartsWith("Admin request GET /api/v1/admin/sessions", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task AdminApi_ForAnAdministrator_ListsEveryUsersSessions()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var host = await ManagementHost.StartAsync(engine);
        var aliceSession = GatewayHost.NewSessionId();
        var bobSession = GatewayHost.NewSessionId();
        await host.Client.ConfigAsync(new ConfigRequest { SessionId = aliceSession }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel);
        await host.Client.ConfigAsync(new ConfigRequest { SessionId = bobSession }, GatewayHost.Bearer(GatewayHost.BobToken), cancellationToken: Cancel);

        using var all = await host.SendAsync(HttpMethod.Get, "/api/v1/admin/sessions", GatewayHost.AliceToken, cancellationToken: Cancel);
        var sessions = await all.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        using var bobs = await host.SendAsync(HttpMethod.Get, "/api/v1/admin/sessions?user=bob", GatewayHost.AliceToken, cancellationToken: Cancel);
        var bobOnly = await bobs.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        using var one = await host.SendAsync(HttpMethod.Get, $"/api/v1/admin/sessions/{bobSession}", GatewayHost.AliceToken, cancellationToken: Cancel);
        using var engines = await host.SendAsync(HttpMethod.Get, "/api/v1/admin/engines", GatewayHost.AliceToken, cancellationToken: Cancel);
        var engineList = await engines.Content.ReadFromJsonAsync<JsonElement>(Cancel);

        Assert.AreEqual(HttpStatusCode.OK, all.StatusCode);
        CollectionAssert.AreEquivalent(new[] { "alice", "bob" }, sessions.EnumerateArray().Select(s => s.GetProperty("user").GetString()).ToArray());
        Assert.AreEqual(bobSession, bobOnly.EnumerateArray().Single().GetProperty("sessionId").GetString());
        Assert.AreEqual(HttpStatusCode.OK, one.StatusCode);
        var engineView = engineList.EnumerateArray().Single();
        Assert.AreEqual(2, engineView.GetProperty("sessions").GetInt32());
        Assert.IsFalse(engineView.GetProperty("launched").GetBoolean(), "a static engine is not launched by the gateway");
    }

    [TestMethod]
    public async Task ReleaseSession_ByAnAdministrator_ReleasesOnTheEngineAsTheOwner_AndTheOwnersNextCallIsRefused()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var host = await ManagementHost.StartAsync(engine);
        var bobSession = GatewayHost.NewSessionId();
        await host.Client.ConfigAsync(new ConfigRequest { SessionId = bobSession }, GatewayHost.Bearer(GatewayHost.BobToken), cancellationToken: Cancel);

        using var response = await host.SendAsync(HttpMethod.Delete, $"/api/v1/admin/sessions/{bobSession}", GatewayHost.AliceToken, cancellationToken: Cancel);
        var next = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await host.Client.ConfigAsync(new ConfigRequest { SessionId = bobSession }, GatewayHost.Bearer(GatewayHost.BobToken), cancellationToken: Cancel));
        using var after = await host.SendAsync(HttpMethod.Get, $"/api/v1/admin/sessions/{bobSession}", GatewayHost.AliceToken, cancellationToken: Cancel);

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, await response.Content.ReadAsStringAsync(Cancel));
        var released = ReleaseSessionRequest.Parser.ParseFrom(engine.CallsTo("ReleaseSession").Single().Requests.Single());
        Assert.AreEqual(bobSession, released.SessionId);
        Assert.AreEqual("bob", released.UserContext.UserId, "released as its owner");
        Assert.AreEqual(StatusCode.Internal, next.StatusCode);
        StringAssert.Contains(next.Status.Detail, "INVALID_HANDLE.SESSION_CLOSED");
        StringAssert.Contains(next.Status.Detail, "administrator");
        Assert.AreEqual(HttpStatusCode.NotFound, after.StatusCode);
        Assert.AreEqual(1, engine.CallsTo("Config").Count, "the refused call did not reach the engine");
        Assert.IsTrue(host.Logs.Entries.Any(e => e.Category == "SparkConnect.Multiplexer.Audit" && e.Message.StartsWith("admin action: admin=alice", StringComparison.Ordinal) && e.Message.Contains(bobSession, StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task StopEngine_NotLaunchedHere_Is409_Unknown_Is404_NonAdministrator_Is403()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var host = await ManagementHost.StartAsync(engine);
        await host.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.BobToken), cancellationToken: Cancel);
        using var engines = await host.SendAsync(HttpMethod.Get, "/api/v1/admin/engines", GatewayHost.AliceToken, cancellationToken: Cancel);
        var staticEngine = (await engines.Content.ReadFromJsonAsync<JsonElement>(Cancel)).EnumerateArray().Single().GetProperty("id").GetString()!;

        using var byBob = await host.SendAsync(HttpMethod.Delete, $"/api/v1/admin/engines/{Uri.EscapeDataString(staticEngine)}", GatewayHost.BobToken, cancellationToken: Cancel);
        using var notLaunched = await host.SendAsync(HttpMethod.Delete, $"/api/v1/admin/engines/{Uri.EscapeDataString(staticEngine)}", GatewayHost.AliceToken, cancellationToken: Cancel);
        using var unknown = await host.SendAsync(HttpMethod.Delete, "/api/v1/admin/engines/no-such-engine", GatewayHost.AliceToken, cancellationToken: Cancel);
        await host.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.BobToken), cancellationToken: Cancel);

        Assert.AreEqual(HttpStatusCode.Forbidden, byBob.StatusCode);
        Assert.AreEqual(HttpStatusCode.Conflict, notLaunched.StatusCode);
        StringAssert.Contains(await notLaunched.Content.ReadAsStringAsync(Cancel), "stop it where it runs");
        Assert.AreEqual(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.AreEqual(2, engine.CallsTo("Config").Count, "the engine still serves calls");
        Assert.IsTrue(host.Logs.Entries.Any(e => e.Category == "SparkConnect.Multiplexer.Audit" && e.Message.Contains("stop_engine", StringComparison.Ordinal) && e.Message.Contains("refused", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task DenyUsers_SetLive_RefusesTheUsersNextCallAtOnce()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var host = await ManagementHost.StartAsync(engine);

        using var put = await host.SendAsync(HttpMethod.Put, "/api/v1/admin/deny/users", GatewayHost.AliceToken, JsonContent.Create(new[] { "bob" }), Cancel);
        var denied = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await host.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.BobToken), cancellationToken: Cancel));
        await host.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel);
        using var refusals = await host.SendAsync(HttpMethod.Get, "/api/v1/admin/refusals", GatewayHost.AliceToken, cancellationToken: Cancel);
        var list = await refusals.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        using var bad = await host.SendAsync(HttpMethod.Put, "/api/v1/admin/deny/addresses", GatewayHost.AliceToken, JsonContent.Create(new[] { "10.0.0.0/33" }), Cancel);

        Assert.AreEqual(HttpStatusCode.OK, put.StatusCode, await put.Content.ReadAsStringAsync(Cancel));
        Assert.AreEqual(StatusCode.PermissionDenied, denied.StatusCode);
        var refusal = list.EnumerateArray().First();
        Assert.AreEqual("bob", refusal.GetProperty("user").GetString());
        Assert.AreEqual("deny_list", refusal.GetProperty("reason").GetString());
        Assert.AreEqual("PERMISSION_DENIED", refusal.GetProperty("status").GetString());
        Assert.AreEqual(HttpStatusCode.BadRequest, bad.StatusCode);
        StringAssert.Contains(await bad.Content.ReadAsStringAsync(Cancel), "neither an IP address nor a CIDR range");
    }

    [TestMethod]
    public async Task OpenApiDocument_DescribesTheAdminApi()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var host = await ManagementHost.StartAsync(engine);

        using var response = await host.Http.GetAsync("/api/v1/admin/openapi/spark-connect-admin.json", Cancel);
        var document = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToArray();
        CollectionAssert.Contains(paths, "/api/v1/admin/sessions/{sessionId}");
        CollectionAssert.Contains(paths, "/api/v1/admin/engines/{engineId}");
        CollectionAssert.Contains(paths, "/api/v1/admin/deny/users");
        Assert.IsFalse(paths.Any(p => p.StartsWith("/spark.connect", StringComparison.Ordinal)), "only the admin API");
    }
}
