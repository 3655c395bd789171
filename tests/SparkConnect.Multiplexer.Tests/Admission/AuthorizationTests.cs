using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Admission;

[TestClass]
public sealed class AuthorizationTests
{
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);
    private static readonly Metadata Bob = GatewayHost.Bearer(GatewayHost.BobToken);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task Rules_AllowOnlyMatchingUsersGroupsShareLevelsAndSubdomains()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o =>
        {
            var engineers = new AuthorizationRule();
            engineers.Groups.Add("eng");
            engineers.Subdomains.Add("etl*");
            engineers.Subdomains.Add("default");
            var everyone = new AuthorizationRule();
            everyone.Users.Add("*");
            everyone.ShareLevels.Add(ShareLevel.User);
            everyone.Subdomains.Add("default");
            o.Authorization.Rules.Add(engineers);
            o.Authorization.Rules.Add(everyone);
        });

        await Config(gateway, Alice, ("subdomain", "etl-nightly"));
        await Config(gateway, Alice, ("share_level", "CONNECTION"));
        await Config(gateway, Bob);
        var bobEtl = await Assert.ThrowsExactlyAsync<RpcException>(() => Config(gateway, Bob, ("subdomain", "etl")));
        var bobConnection = await Assert.ThrowsExactlyAsync<RpcException>(() => Config(gateway, Bob, ("share_level", "CONNECTION")));

        Assert.AreEqual(StatusCode.PermissionDenied, bobEtl.StatusCode);
        StringAssert.Contains(bobEtl.Status.Detail, "subdomain 'etl'");
        Assert.AreEqual(StatusCode.PermissionDenied, bobConnection.StatusCode);
        Assert.AreEqual(3, engine.Calls.Count);
        Assert.IsTrue(gateway.Logs.Entries.Any(e => e.Category == "SparkConnect.Multiplexer.Audit" && e.Message.Contains("call refused", StringComparison.Ordinal) && e.Message.Contains("user=bob", StringComparison.Ordinal)));
        Assert.IsTrue(gateway.Logs.Entries.Any(e => e.Category == "SparkConnect.Multiplexer.Audit" && e.Message.Contains("session opened", StringComparison.Ordinal) && e.Message.Contains("user=alice", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task Rules_CanRestrictEngines()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o =>
        {
            o.Engines.Groups["eng"] = new StaticEngineOptions { Address = engine.Address.ToString() };
            var rule = new AuthorizationRule();
            rule.Users.Add("*");
            rule.Engines.Add("static:group:*");
            o.Authorization.Rules.Add(rule);
        });

        await Config(gateway, Alice);
        var bob = await Assert.ThrowsExactlyAsync<RpcException>(() => Config(gateway, Bob));

        Assert.AreEqual(StatusCode.PermissionDenied, bob.StatusCode);
        StringAssert.Contains(bob.Status.Detail, "engine 'static:default'");
    }

    [TestMethod]
    public async Task ConfigDenyList_RefusesSettingOrUnsettingADeniedKey()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Authorization.DeniedConfigKeys.Add("spark.driver.*"));
        var session = GatewayHost.NewSessionId();
        var allowed = SetRequest(session, "spark.sql.shuffle.partitions", "8");
        var denied = SetRequest(session, "spark.sql.ansi.enabled", "true");
        denied.Operation.Set.Pairs.Add(new KeyValue { Key = "spark.driver.memory", Value = "64g" });
        var unset = new ConfigRequest { SessionId = session, Operation = new ConfigRequest.Types.Operation { Unset = new ConfigRequest.Types.Unset() } };
        unset.Operation.Unset.Keys.Add("SPARK.DRIVER.cores");

        await gateway.Client.ConfigAsync(allowed, Alice, cancellationToken: Cancel);
        var setRefused = await Assert.ThrowsExactlyAsync<RpcException>(async () => await gateway.Client.ConfigAsync(denied, Alice, cancellationToken: Cancel));
        var unsetRefused = await Assert.ThrowsExactlyAsync<RpcException>(async () => await gateway.Client.ConfigAsync(unset, Alice, cancellationToken: Cancel));

        Assert.AreEqual(StatusCode.PermissionDenied, setRefused.StatusCode);
        StringAssert.Contains(setRefused.Status.Detail, "'spark.driver.memory'");
        Assert.AreEqual(StatusCode.PermissionDenied, unsetRefused.StatusCode);
        Assert.AreEqual(1, engine.Calls.Count);
    }

    [TestMethod]
    public async Task ConfigResponses_NeverCarrySecrets()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Authorization.HiddenConfigKeys.Add("spark.hadoop.fs.s3a.*"));
        engine.Script = (call, context, write) =>
        {
            var response = new ConfigResponse { SessionId = "s", ServerSideSessionId = engine.Name };
            response.Pairs.Add(new KeyValue { Key = "spark.app.name", Value = "app" });
            response.Pairs.Add(new KeyValue { Key = "spark.connect.authenticate.token", Value = "engine-token" });
            response.Pairs.Add(new KeyValue { Key = "spark.ssl.keyStorePassword", Value = "pw" });
            response.Pairs.Add(new KeyValue { Key = "spark.hadoop.fs.s3a.access.key", Value = "AKIA" });
            response.Pairs.Add(new KeyValue { Key = "spark.sql.shuffle.partitions", Value = "8" });
            response.Warnings.Add("kept");
            return write(Google.Protobuf.MessageExtensions.ToByteArray(response));
        };
        var headers = GatewayHost.Bearer(GatewayHost.AliceToken);
        headers.Add("grpc-accept-encoding", "gzip");

        var reply = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, headers, cancellationToken: Cancel);

        CollectionAssert.AreEqual(new[] { "spark.app.name", "spark.sql.shuffle.partitions" }, reply.Pairs.Select(p => p.Key).ToArray());
        Assert.AreEqual("kept", reply.Warnings.Single());
        Assert.AreEqual(engine.Name, reply.ServerSideSessionId);
        Assert.IsNull(engine.Calls.Single().Header("grpc-accept-encoding"), "the engine is not offered compression for Config, so the gateway can read it");
    }

    [TestMethod]
    public async Task LargeConfigResponse_ArrivesWhole_WithoutItsSecrets()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine);
        var response = new ConfigResponse { SessionId = "s", ServerSideSessionId = engine.Name };
        for (var i = 0; i < 3000; i++)
        {
            response.Pairs.Add(new KeyValue { Key = $"spark.custom.key{i}", Value = new string('v', 40) });
            if (i == 1500)
            {
                response.Pairs.Add(new KeyValue { Key = "spark.connect.authenticate.token", Value = "engine-token" });
            }
        }

        engine.Script = (call, context, write) => write(Google.Protobuf.MessageExtensions.ToByteArray(response));

        var reply = await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel);

        Assert.IsGreaterThan(100_000, response.CalculateSize(), "larger than the relay's first buffer, many times over");
        CollectionAssert.AreEqual(Enumerable.Range(0, 3000).Select(i => $"spark.custom.key{i}").ToArray(), reply.Pairs.Select(p => p.Key).ToArray());
    }

    [TestMethod]
    public async Task HashedToken_Authenticates_AndTokenGuessesMeetTheAddressCeiling()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        const string Token = "carol-token-0123456789abcdef";
        await using var gateway = await GatewayHost.StartAsync(engine, o =>
        {
            o.Authentication.Tokens.Add(new StaticTokenOptions { TokenSha256 = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Token))), User = "carol" });
            // A wrong token claims no user: guesses count against the address-wide ceiling only.
            o.Authentication.Throttle.MaxFailures = 3;
            o.Authentication.Throttle.MaxFailuresPerAddress = 3;
            o.Authentication.Throttle.Window = TimeSpan.FromMinutes(5);
        });

        await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(Token), cancellationToken: Cancel);
        for (var i = 0; i < 3; i++)
        {
            var wrong = await Assert.ThrowsExactlyAsync<RpcException>(async () => await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer("guess-" + i), cancellationToken: Cancel));
            Assert.AreEqual("Invalid token.", wrong.Status.Detail);
        }

        var throttled = await Assert.ThrowsExactlyAsync<RpcException>(async () => await gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, GatewayHost.Bearer(Token), cancellationToken: Cancel));

        Assert.AreEqual("carol", ConfigRequest.Parser.ParseFrom(engine.Calls.Single().Requests[0]).UserContext.UserId);
        Assert.AreEqual(StatusCode.Unauthenticated, throttled.StatusCode);
        StringAssert.Contains(throttled.Status.Detail, "Too many failed authentication attempts");
        Assert.AreEqual(1, gateway.Logs.Entries.Count(e => e.Message.Contains("Too many failed authentications", StringComparison.Ordinal)), "logged once per window");
    }

    private static ConfigRequest SetRequest(string session, string key, string value)
    {
        var request = new ConfigRequest { SessionId = session, Operation = new ConfigRequest.Types.Operation { Set = new ConfigRequest.Types.Set() } };
        request.Operation.Set.Pairs.Add(new KeyValue { Key = key, Value = value });
        return request;
    }

    private Task<ConfigResponse> Config(GatewayHost gateway, Metadata credential, params (string Name, string Value)[] hints)
    {
        var headers = new Metadata();
        foreach (var entry in credential)
        {
            headers.Add(entry);
        }

        foreach (var (name, value) in hints)
        {
            headers.Add(name, value);
        }

        return gateway.Client.ConfigAsync(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }, headers, cancellationToken: Cancel).ResponseAsync;
    }
}

[TestClass]
public sealed class SqlConfigDenyListTests
{
    private static readonly Metadata Alice = GatewayHost.Bearer(GatewayHost.AliceToken);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    [DataRow("SET spark.driver.memory=64g", "spark.driver.memory")]
    [DataRow("  set `spark.driver.cores` = 8", "spark.driver.cores")]
    [DataRow("SELECT 1; /* hide */ SET spark.driver.memory = 1g", "spark.driver.memory")]
    [DataRow("-- note\nRESET spark.driver.memory", "spark.driver.memory")]
    [DataRow("SET`spark.driver.memory`=1g", "spark.driver.memory")]
    [DataRow("SET ` odd``key ` = 1", "odd`key")]
    [DataRow("SET\tspark.sql:x\n=\n1", "spark.sql:x")]
    [DataRow("EXECUTE IMMEDIATE 'SET spark.driver.memory=1g'", "spark.driver.memory")]
    // Errs towards refusing: the scan does not tell a literal from a statement.
    [DataRow("SELECT 'SET spark.driver.memory=1g' AS text", "spark.driver.memory")]
    public void ChangedConfKeys_FindsSetAndReset(string sql, string key)
        => CollectionAssert.Contains(ChangedConfKeys(sql).ToArray(), key);

    [TestMethod]
    [DataRow("SET spark.driver.memory")]
    [DataRow("SET -v")]
    [DataRow("SELECT offset = 1, dataset FROM settings WHERE asset=2")]
    [DataRow("SET `unclosed = 1")]
    public void ChangedConfKeys_ReadsAndOtherWordsAreNotChanges(string sql)
        => Assert.AreEqual(0, ChangedConfKeys(sql).Count);

    [TestMethod]
    public void ChangedConfKeys_FindsAStatementSplitAcrossBufferSegments()
    {
        var bytes = Encoding.UTF8.GetBytes("SELECT 1; RESET spark.driver.memory; SET spark.driver.cores=2");
        for (var segmentLength = 1; segmentLength < bytes.Length; segmentLength++)
        {
            var keys = global::SparkConnect.Multiplexer.Protocol.PlanSql.ChangedConfKeys(Segments.Split(bytes, segmentLength));
            CollectionAssert.AreEqual(new[] { "spark.driver.memory", "spark.driver.cores" }, keys.ToArray(), $"segments of {segmentLength} bytes");
        }
    }

    private static IReadOnlyList<string> ChangedConfKeys(string sql)
        => global::SparkConnect.Multiplexer.Protocol.PlanSql.ChangedConfKeys(new System.Buffers.ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(sql)));

    [TestMethod]
    public async Task SqlSet_ThroughEveryPlanShape_IsRefused_ReadsPass()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Authorization.DeniedConfigKeys.Add("spark.driver.*"));
        var session = GatewayHost.NewSessionId();
        var asInput = new Plan { Command = new Command { SqlCommand = new SqlCommand { Input = new Relation { Sql = new SQL { Query = "SET spark.driver.memory=64g" } } } } };
#pragma warning disable CS0612 // the deprecated sql field is what older clients send
        var asDeprecatedText = new Plan { Command = new Command { SqlCommand = new SqlCommand { Sql = "reset spark.driver.cores" } } };
#pragma warning restore CS0612
        var asRoot = new Plan { Root = new Relation { Sql = new SQL { Query = "SET spark.driver.maxResultSize = 0" } } };
        var compressed = new Plan { CompressedOperation = new Plan.Types.CompressedOperation() };
        var harmless = new Plan { Command = new Command { SqlCommand = new SqlCommand { Input = new Relation { Sql = new SQL { Query = "SET spark.sql.shuffle.partitions=8; SET spark.driver.memory" } } } } };

        foreach (var plan in new[] { asInput, asDeprecatedText, asRoot, compressed })
        {
            using var call = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = session, Plan = plan }, Alice, cancellationToken: Cancel);
            var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => call.ResponseStream.MoveNext(Cancel));
            Assert.AreEqual(StatusCode.PermissionDenied, refused.StatusCode, plan.ToString());
        }

        using (var allowed = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = session, Plan = harmless }, Alice, cancellationToken: Cancel))
        {
            Assert.IsTrue(await allowed.ResponseStream.MoveNext(Cancel));
        }

        Assert.AreEqual(1, engine.Calls.Count, "only the harmless plan reached the engine");
    }

    [TestMethod]
    public async Task SqlSet_NestedUnderOtherRelations_IsRefused()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Authorization.DeniedConfigKeys.Add("spark.driver.*"));
        // A 97-byte query: its length byte is 'a', right before the statement, which must not hide it.
        var query = "SET spark.driver.memory=64g".PadRight(97);
        var nested = new Relation { Limit = new Limit { Limit_ = 1, Input = new Relation { Project = new Project { Input = new Relation { Sql = new SQL { Query = query } } } } } };
        using var call = gateway.Client.ExecutePlan(new ExecutePlanRequest { SessionId = GatewayHost.NewSessionId(), Plan = new Plan { Root = nested } }, Alice, cancellationToken: Cancel);
        var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => call.ResponseStream.MoveNext(Cancel));
        Assert.AreEqual(StatusCode.PermissionDenied, refused.StatusCode);
        StringAssert.Contains(refused.Status.Detail, "spark.driver.memory");
        Assert.AreEqual(0, engine.Calls.Count);
    }

    [TestMethod]
    public async Task SqlSet_InAnalyzePlan_IsRefused_ReadsPass()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var gateway = await GatewayHost.StartAsync(engine, o => o.Authorization.DeniedConfigKeys.Add("spark.driver.*"));
        var session = GatewayHost.NewSessionId();
        Plan Sql(string text) => new() { Root = new Relation { Sql = new SQL { Query = text } } };
        var requests = new[]
        {
            new AnalyzePlanRequest { SessionId = session, Schema = new AnalyzePlanRequest.Types.Schema { Plan = Sql("SET spark.driver.memory=64g") } },
            new AnalyzePlanRequest { SessionId = session, Explain = new AnalyzePlanRequest.Types.Explain { Plan = Sql("RESET spark.driver.cores") } },
            new AnalyzePlanRequest { SessionId = session, SameSemantics = new AnalyzePlanRequest.Types.SameSemantics { TargetPlan = Sql("SELECT 1"), OtherPlan = Sql("SET spark.driver.memory=1g") } },
            new AnalyzePlanRequest { SessionId = session, Schema = new AnalyzePlanRequest.Types.Schema { Plan = new Plan { CompressedOperation = new Plan.Types.CompressedOperation() } } },
        };

        foreach (var request in requests)
        {
            var refused = await Assert.ThrowsExactlyAsync<RpcException>(() => gateway.Client.AnalyzePlanAsync(request, Alice, cancellationToken: Cancel).ResponseAsync);
            Assert.AreEqual(StatusCode.PermissionDenied, refused.StatusCode, request.ToString());
        }

        await gateway.Client.AnalyzePlanAsync(new AnalyzePlanRequest { SessionId = session, Schema = new AnalyzePlanRequest.Types.Schema { Plan = Sql("SET spark.sql.shuffle.partitions=4") } }, Alice, cancellationToken: Cancel);
        Assert.AreEqual(1, engine.Calls.Count, "only the allowed analysis reached the engine");
    }
}
