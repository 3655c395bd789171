using Grpc.Core;
using Google.Protobuf;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Sessions;

[TestClass]
public sealed class SessionTests
{
    [TestMethod]
    public async Task TempView_OfAlice_IsInvisibleToBob()
    {
        var alice = SharedGateway.Host.Client("alice");
        var bob = SharedGateway.Host.Client("bob");
        await alice.SqlAsync("CREATE OR REPLACE TEMPORARY VIEW secret AS SELECT 'alice-only' AS v");
        var (_, rows, _) = await alice.QueryAsync("SELECT v FROM secret");
        Assert.AreEqual("alice-only", rows.Single()[0]);

        var error = await Assert.ThrowsExactlyAsync<RpcException>(() => bob.QueryAsync("SELECT v FROM secret"));
        Assert.AreEqual("TABLE_OR_VIEW_NOT_FOUND", ErrorDetails.Read(error).Metadata["errorClass"]);
        var serverSide = (await alice.QueryAsync("SELECT 1")).Responses[0].ServerSideSessionId;
        var bobServerSide = (await bob.QueryAsync("SELECT 1")).Responses[0].ServerSideSessionId;
        Assert.AreNotEqual(serverSide, bobServerSide);
    }

    [TestMethod]
    public async Task Config_SetGetUnsetAndDefaults_AreSessionScoped()
    {
        var client = SharedGateway.Host.Client("alice");
        var other = SharedGateway.Host.Client("alice");
        Task<ConfigResponse> Config(SparkClient c, ConfigRequest.Types.Operation op)
            => c.Raw.ConfigAsync(new ConfigRequest { SessionId = c.SessionId, UserContext = c.UserContext, Operation = op }, c.Headers).ResponseAsync;

        var defaults = await Config(client, new() { Get = new() { Keys = { "spark.sql.session.timeZone", "spark.sql.execution.arrow.maxRecordsPerBatch" } } });
        Assert.AreEqual("UTC", defaults.Pairs[0].Value);
        Assert.AreEqual("10000", defaults.Pairs[1].Value);
        await Config(client, new() { Set = new() { Pairs = { new KeyValue { Key = "my.key", Value = "1" } } } });
        Assert.AreEqual("1", (await Config(client, new() { GetOption = new() { Keys = { "my.key" } } })).Pairs.Single().Value);
        Assert.IsFalse((await Config(other, new() { GetOption = new() { Keys = { "my.key" } } })).Pairs.Single().HasValue);
        Assert.AreEqual("d", (await Config(other, new() { GetWithDefault = new() { Pairs = { new KeyValue { Key = "my.key", Value = "d" } } } })).Pairs.Single().Value);
        var all = await Config(client, new() { GetAll = new() { Prefix = "my." } });
        Assert.AreEqual("my.key", all.Pairs.Single().Key);
        await Config(client, new() { Unset = new() { Keys = { "my.key" } } });
        Assert.IsFalse((await Config(client, new() { GetOption = new() { Keys = { "my.key" } } })).Pairs.Single().HasValue);
        var modifiable = await Config(client, new() { IsModifiable = new() { Keys = { "spark.sql.ansi.enabled", "spark.sql.warehouse.dir" } } });
        CollectionAssert.AreEqual(new[] { "true", "false" }, modifiable.Pairs.Select(p => p.Value).ToArray());
        var missing = await Assert.ThrowsExactlyAsync<RpcException>(() => Config(client, new() { Get = new() { Keys = { "no.such.key" } } }));
        Assert.AreEqual("SQL_CONF_NOT_FOUND", ErrorDetails.Read(missing).Metadata["errorClass"]);
    }

    [TestMethod]
    public async Task AnalyzePlan_SchemaVersionTreeStringDdlParse()
    {
        var client = SharedGateway.Host.Client("bob");
        var plan = new Plan { Root = new Relation { Sql = new SQL { Query = "SELECT 1::BIGINT AS id, 'x' AS name" } } };
        Task<AnalyzePlanResponse> Analyze(AnalyzePlanRequest r)
        {
            r.SessionId = client.SessionId;
            r.UserContext = client.UserContext;
            return client.Raw.AnalyzePlanAsync(r, client.Headers).ResponseAsync;
        }

        var schema = await Analyze(new AnalyzePlanRequest { Schema = new() { Plan = plan } });
        Assert.AreEqual("id", schema.Schema.Schema_.Struct.Fields[0].Name);
        Assert.AreEqual(DataType.KindOneofCase.Long, schema.Schema.Schema_.Struct.Fields[0].DataType.KindCase);
        var version = await Analyze(new AnalyzePlanRequest { SparkVersion = new() });
        StringAssert.StartsWith(version.SparkVersion.Version, "4.0.0 (local-duckdb");
        var tree = await Analyze(new AnalyzePlanRequest { TreeString = new() { Plan = plan } });
        Assert.AreEqual("root\n |-- id: long (nullable = true)\n |-- name: string (nullable = true)\n", tree.TreeString.TreeString_);
        var ddl = await Analyze(new AnalyzePlanRequest { DdlParse = new() { DdlString = "a INT, b ARRAY<STRING> NOT NULL" } });
        Assert.AreEqual(DataType.KindOneofCase.Array, ddl.DdlParse.Parsed.Struct.Fields[1].DataType.KindCase);
        Assert.IsFalse(ddl.DdlParse.Parsed.Struct.Fields[1].Nullable);
        var explain = await Analyze(new AnalyzePlanRequest { Explain = new() { Plan = plan, ExplainMode = AnalyzePlanRequest.Types.Explain.Types.ExplainMode.Simple } });
        StringAssert.StartsWith(explain.Explain.ExplainString, "== Physical Plan ==");
        var same = await Analyze(new AnalyzePlanRequest { SameSemantics = new() { TargetPlan = plan, OtherPlan = plan } });
        Assert.IsTrue(same.SameSemantics.Result);
        Assert.IsFalse((await Analyze(new AnalyzePlanRequest { IsStreaming = new() { Plan = plan } })).IsStreaming.IsStreaming_);
    }

    [TestMethod]
    public async Task Artifacts_CrcChecked_AndStatusReported()
    {
        var client = SharedGateway.Host.Client("bob");
        var data = "hello"u8.ToArray();
        using var call = client.Raw.AddArtifacts(client.Headers);
        var batch = new AddArtifactsRequest.Types.Batch();
        batch.Artifacts.Add(new AddArtifactsRequest.Types.SingleChunkArtifact { Name = "jars/good.jar", Data = new() { Data = ByteString.CopyFrom(data), Crc = 907060870 } });
        batch.Artifacts.Add(new AddArtifactsRequest.Types.SingleChunkArtifact { Name = "jars/bad.jar", Data = new() { Data = ByteString.CopyFrom(data), Crc = 1 } });
        await call.RequestStream.WriteAsync(new AddArtifactsRequest { SessionId = client.SessionId, UserContext = client.UserContext, Batch = batch });
        await call.RequestStream.CompleteAsync();
        var added = await call.ResponseAsync;
        CollectionAssert.AreEqual(new[] { true, false }, added.Artifacts.Select(a => a.IsCrcSuccessful).ToArray());
        var status = await client.Raw.ArtifactStatusAsync(new ArtifactStatusesRequest { SessionId = client.SessionId, UserContext = client.UserContext, Names = { "jars/good.jar", "jars/bad.jar" } }, client.Headers);
        Assert.IsTrue(status.Statuses["jars/good.jar"].Exists);
        Assert.IsFalse(status.Statuses["jars/bad.jar"].Exists);
    }
}
