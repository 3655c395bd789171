using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Spark.Connect;
using SparkConnect.Multiplexer.Redis.Tests.Infrastructure;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Redis.Tests.Management;

/// <summary>The admin API of one replica shows every replica's sessions when they share a real Redis.</summary>
[TestClass]
public sealed class SharedAdminListTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task AdminSessionList_OnOneReplica_ShowsTheSessionsOfEveryReplica()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        var prefix = "admin-" + Guid.NewGuid().ToString("N");
        await using var first = await StartReplicaAsync(redis, engine, prefix);
        await using var second = await StartReplicaAsync(redis, engine, prefix);
        var onFirst = GatewayHost.NewSessionId();
        var onSecond = GatewayHost.NewSessionId();
        await first.Client.ConfigAsync(new ConfigRequest { SessionId = onFirst }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel);
        await second.Client.ConfigAsync(new ConfigRequest { SessionId = onSecond }, GatewayHost.Bearer(GatewayHost.BobToken), cancellationToken: Cancel);

        // The gateway's port speaks HTTP/2 only: the admin request goes by prior knowledge.
        using var http = new HttpClient { BaseAddress = first.Address };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/admin/sessions") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", GatewayHost.AliceToken);
        using var response = await http.SendAsync(request, Cancel);
        var body = await response.Content.ReadAsStringAsync(Cancel);

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, body);
        var sessions = JsonDocument.Parse(body).RootElement;
        CollectionAssert.AreEquivalent(new[] { onFirst, onSecond }, sessions.EnumerateArray().Select(s => s.GetProperty("sessionId").GetString()).ToArray());
    }

    private static Task<GatewayHost> StartReplicaAsync(RedisServer redis, RecordingEngine engine, string prefix)
        => RedisReplica.StartAsync(
            redis.SteadyConfiguration,
            engine,
            prefix,
            o => o.Admin.Users.Add("alice"),
            build: g => g.AddManagement(),
            map: endpoints => endpoints.MapSparkConnectGatewayManagement());
}
