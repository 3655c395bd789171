using Grpc.Core;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;
using static SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure.Plans;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Execution;

/// <summary>spark.catalog calls, CloneSession and progress reports, on a direct engine.</summary>
[TestClass]
public class CatalogTests
{
    /// <summary>A client on the direct path; <see cref="CatalogTestsThroughGateway"/> runs every test through the gateway.</summary>
    internal virtual SparkClient Client(string user = "alice") => SharedEngine.Client(user);

    private static Relation Catalog(Catalog catalog) => new() { Catalog = catalog };

    [TestMethod]
    public async Task Catalog_DatabasesTablesColumns_InSparksShape()
    {
        var client = Client();
        var table = Unique("cat");
        var view = Unique("tmp");
        await client.QueryAsync(Sql($"CREATE TABLE {table} (id BIGINT, name VARCHAR)"));
        await client.ExecuteAsync(new Plan { Command = new Command { CreateDataframeView = new CreateDataFrameViewCommand { Input = Range(1), Name = view } } });

        var (_, current, _) = await client.QueryAsync(Catalog(new Catalog { CurrentDatabase = new CurrentDatabase() }));
        Assert.AreEqual("default", current.Text().Single());

        var (dbFields, databases, _) = await client.QueryAsync(Catalog(new Catalog { ListDatabases = new ListDatabases() }));
        Assert.AreEqual("name,catalog,description,locationUri", string.Join(',', dbFields.Select(f => f.Name)));
        Assert.AreEqual("default|spark_catalog", string.Join('|', databases.Single()[..2]));

        var (tableFields, tables, _) = await client.QueryAsync(Catalog(new Catalog { ListTables = new ListTables { Pattern = table + "|" + view } }));
        Assert.AreEqual("name,catalog,namespace,description,tableType,isTemporary", string.Join(',', tableFields.Select(f => f.Name)));
        CollectionAssert.AreEqual(new[] { $"{table}|spark_catalog|[default]|null|MANAGED|False", $"{view}|null|[]|null|TEMPORARY|True" }, tables.Text());
        Assert.IsEmpty((await client.QueryAsync(Catalog(new Catalog { ListTables = new ListTables { Pattern = "no_such_*" } }))).Rows);

        // DuckDB's own (internal) views are not the user's tables.
        var all = (await client.QueryAsync(Catalog(new Catalog { ListTables = new ListTables() }))).Rows.Select(r => (string)r[0]!).ToList();
        CollectionAssert.Contains(all, table);
        Assert.IsFalse(all.Any(n => n.StartsWith("duckdb_", StringComparison.Ordinal) || n.StartsWith("pragma_", StringComparison.Ordinal) || n is "sqlite_master" or "columns" or "character_sets"), string.Join(", ", all));

        async Task<bool> ExistsAsync(string name, string? db = null)
        {
            var exists = new TableExists { TableName = name };
            if (db is not null)
            {
                exists.DbName = db;
            }

            return (bool)(await client.QueryAsync(Catalog(new Catalog { TableExists = exists }))).Rows.Single()[0]!;
        }

        Assert.IsTrue(await ExistsAsync(table));
        Assert.IsTrue(await ExistsAsync($"default.{table}"));
        Assert.IsTrue(await ExistsAsync(table, "default"));
        Assert.IsTrue(await ExistsAsync(view));
        Assert.IsFalse(await ExistsAsync(Unique("nope")));

        var (columnFields, columns, _) = await client.QueryAsync(Catalog(new Catalog { ListColumns = new ListColumns { TableName = table } }));
        Assert.AreEqual("name,description,dataType,nullable,isPartition,isBucket,isCluster", string.Join(',', columnFields.Select(f => f.Name)));
        CollectionAssert.AreEqual(new[] { "id|null|bigint|True|False|False|False", "name|null|string|True|False|False|False" }, columns.Text());

        var missing = await Assert.ThrowsExactlyAsync<RpcException>(() => client.QueryAsync(Catalog(new Catalog { ListTables = new ListTables { DbName = "no_such_db" } })));
        Assert.AreEqual("SCHEMA_NOT_FOUND", ErrorDetails.Read(missing).Metadata["errorClass"]);

        var dropped = (await client.QueryAsync(Catalog(new Catalog { DropTempView = new DropTempView { ViewName = view } }))).Rows.Single()[0];
        Assert.AreEqual(true, dropped);
        Assert.IsFalse(await ExistsAsync(view));
    }

    [TestMethod]
    public async Task Catalog_SetCurrentDatabase_IsPerSession()
    {
        var client = Client();
        var schema = Unique("db");
        await client.QueryAsync(Sql($"CREATE SCHEMA {schema}"));
        var (fields, _, _) = await client.QueryAsync(Catalog(new Catalog { SetCurrentDatabase = new SetCurrentDatabase { DbName = schema } }));
        Assert.IsEmpty(fields);
        Assert.AreEqual(schema, (await client.QueryAsync(Catalog(new Catalog { CurrentDatabase = new CurrentDatabase() }))).Rows.Text().Single());
        Assert.AreEqual("default", (await Client().QueryAsync(Catalog(new Catalog { CurrentDatabase = new CurrentDatabase() }))).Rows.Text().Single());
    }

    [TestMethod]
    public async Task CloneSession_CopiesConfigAndTemporaryViews_AndNeedsAnExistingSource()
    {
        var client = Client();
        await client.Raw.ConfigAsync(new ConfigRequest { SessionId = client.SessionId, UserContext = client.UserContext, Operation = new() { Set = new() { Pairs = { new KeyValue { Key = "my.key", Value = "42" } } } } }, client.Headers);
        await client.QueryAsync(Sql("CREATE TEMP VIEW cloned_view AS SELECT 'kept' AS v"));
        var newId = Guid.NewGuid().ToString();
        var response = await client.Raw.CloneSessionAsync(new CloneSessionRequest { SessionId = client.SessionId, UserContext = client.UserContext, NewSessionId = newId }, client.Headers);
        Assert.AreEqual(newId, response.NewSessionId);
        Assert.AreNotEqual(response.ServerSideSessionId, response.NewServerSideSessionId);

        var clone = new SparkClient(client.Raw, "alice", newId);
        Assert.AreEqual("kept", (await clone.QueryAsync(Sql("SELECT v FROM cloned_view"))).Rows.Text().Single());
        var config = await clone.Raw.ConfigAsync(new ConfigRequest { SessionId = newId, UserContext = clone.UserContext, Operation = new() { Get = new() { Keys = { "my.key" } } } }, clone.Headers);
        Assert.AreEqual("42", config.Pairs.Single().Value);

        // The clone is a session of its own: a view made there stays there.
        await clone.QueryAsync(Sql("CREATE TEMP VIEW only_in_clone AS SELECT 1 AS x"));
        Assert.AreEqual("TABLE_OR_VIEW_NOT_FOUND", ErrorDetails.Read(await Assert.ThrowsExactlyAsync<RpcException>(() => client.QueryAsync(Sql("SELECT * FROM only_in_clone")))).Metadata["errorClass"]);

        var again = await Assert.ThrowsExactlyAsync<RpcException>(() => client.Raw.CloneSessionAsync(new CloneSessionRequest { SessionId = client.SessionId, UserContext = client.UserContext, NewSessionId = newId }, client.Headers).ResponseAsync);
        Assert.AreEqual("INVALID_HANDLE.SESSION_ALREADY_EXISTS", ErrorDetails.Read(again).Metadata["errorClass"]);
        var unknown = await Assert.ThrowsExactlyAsync<RpcException>(() => client.Raw.CloneSessionAsync(new CloneSessionRequest { SessionId = Guid.NewGuid().ToString(), UserContext = client.UserContext }, client.Headers).ResponseAsync);
        Assert.AreEqual("INVALID_HANDLE.SESSION_NOT_FOUND", ErrorDetails.Read(unknown).Metadata["errorClass"]);
    }

    [TestMethod]
    public async Task LongStatement_ReportsExecutionProgress()
    {
        var client = Client();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        // Runs far longer than the first report comes (1 s); interrupted once a report arrived.
        var operationId = Guid.NewGuid().ToString();
        using var call = client.Raw.ExecutePlan(client.Request(new Plan { Root = Sql("SELECT count(*) FROM range(1000000000000) WHERE id % 7 = 3") }, operationId), client.Headers, cancellationToken: timeout.Token);
        ExecutePlanResponse? progress = null;
        await foreach (var response in call.ResponseStream.ReadAllAsync(timeout.Token))
        {
            if (response.ExecutionProgress is not null)
            {
                progress = response;
                break;
            }
        }

        Assert.IsNotNull(progress, "no execution_progress before the stream ended");
        var stage = progress.ExecutionProgress.Stages.Single();
        Assert.AreEqual(100, stage.NumTasks);
        Assert.IsFalse(stage.Done);
        Assert.AreEqual(1, progress.ExecutionProgress.NumInflightTasks);
        Assert.AreEqual(operationId, progress.OperationId);
        Assert.AreEqual(client.SessionId, progress.SessionId);
        var interrupt = await client.Raw.InterruptAsync(new InterruptRequest { SessionId = client.SessionId, UserContext = client.UserContext, InterruptType = InterruptRequest.Types.InterruptType.OperationId, OperationId = operationId }, client.Headers);
        CollectionAssert.Contains(interrupt.InterruptedIds, operationId);
    }
}

/// <summary>The same tests through a real gateway that routes each user to an embedded local engine.</summary>
[TestClass]
public sealed class CatalogTestsThroughGateway : CatalogTests
{
    internal override SparkClient Client(string user = "alice") => SharedGateway.Host.Client(user);
}
