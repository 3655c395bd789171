using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;
using SparkConnect.Multiplexer.LocalEngine.Types;
using static SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure.Plans;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Execution;

/// <summary>SQL sent as a root <c>sql</c> relation (how Scala, Go and .NET clients send spark.sql) and Spark SQL functions.</summary>
[TestClass]
public class SqlRelationTests
{
    /// <summary>A client on the direct path; <see cref="SqlRelationTestsThroughGateway"/> runs every test through the gateway.</summary>
    internal virtual SparkClient Client(string user = "alice") => SharedEngine.Client(user);

    [TestMethod]
    public async Task RootSql_Commands_RunEagerlyWithEmptyResult()
    {
        var client = Client();
        var table = Unique("t");
        var view = Unique("v");
        foreach (var command in new[]
        {
            $"CREATE TABLE {table} AS SELECT 1 AS a",
            $"INSERT INTO {table} VALUES (2), (3)",
            $"CREATE VIEW {view} AS SELECT a * 10 AS b FROM {table}",
            $"  -- a comment first\nCREATE OR REPLACE TEMP VIEW {view}_tmp AS SELECT 7 AS c;",
        })
        {
            var (fields, rows, responses) = await client.QueryAsync(Sql(command));
            Assert.IsEmpty(fields, command);
            Assert.IsEmpty(rows, command);
            Assert.AreEqual(0, responses.Single(r => r.Schema is not null).Schema.Struct.Fields.Count, command);
        }

        var (_, values, _) = await client.QueryAsync(Sql($"SELECT b FROM {view} ORDER BY b"));
        CollectionAssert.AreEqual(new[] { "10", "20", "30" }, values.Text());
        Assert.AreEqual("7", (await client.QueryAsync(Sql($"SELECT c FROM {view}_tmp"))).Rows.Text().Single());

        await client.QueryAsync(Sql($"DROP VIEW {view}"));
        await client.QueryAsync(Sql($"DROP TABLE {table}"));
        var error = await Assert.ThrowsExactlyAsync<Grpc.Core.RpcException>(() => client.QueryAsync(Sql($"SELECT * FROM {table}")));
        Assert.AreEqual("TABLE_OR_VIEW_NOT_FOUND", ErrorDetails.Read(error).Metadata["errorClass"]);
    }

    [TestMethod]
    public async Task NestedSql_Command_RunsOnceUnderShowAndLimit()
    {
        var client = Client();
        var table = Unique("t");
        await client.QueryAsync(Sql($"CREATE TABLE {table} (a INT)"));

        // spark.sql("INSERT …").show() and .limit(1).collect(): the command runs, the result is empty.
        var shown = await client.ShowAsync(Sql($"INSERT INTO {table} VALUES (1)"));
        Assert.AreEqual("++\n||\n++\n++\n", shown);
        var (_, rows, _) = await client.QueryAsync(new Relation { Limit = new Limit { Input = Sql($"INSERT INTO {table} VALUES (2)"), Limit_ = 1 } });
        Assert.IsEmpty(rows);
        CollectionAssert.AreEqual(new[] { "1", "2" }, (await client.QueryAsync(Sql($"SELECT a FROM {table} ORDER BY a"))).Rows.Text());
    }

    [TestMethod]
    public async Task RootSql_Command_AnalyzeSchemaIsEmptyAndDoesNotRunIt()
    {
        var client = Client();
        var table = Unique("t");
        var response = await client.Raw.AnalyzePlanAsync(new AnalyzePlanRequest { SessionId = client.SessionId, UserContext = client.UserContext, Schema = new() { Plan = new Plan { Root = Sql($"CREATE TABLE {table} AS SELECT 1 AS a") } } }, client.Headers);
        Assert.AreEqual(0, response.Schema.Schema_.Struct.Fields.Count);

        // Running it afterwards creates the table once: analysis ran nothing.
        await client.QueryAsync(Sql($"CREATE TABLE {table} AS SELECT 1 AS a"));
        Assert.AreEqual("1", (await client.QueryAsync(Sql($"SELECT count(*) FROM {table}"))).Rows.Text().Single());
    }

    [TestMethod]
    public async Task RootSql_QueryEndingInLineComment_Works()
    {
        var (_, rows, _) = await Client().QueryAsync(Sql("SELECT 42 AS answer -- the answer"));
        Assert.AreEqual("42", rows.Text().Single());
    }

    [TestMethod]
    [DataRow("SELECT * FROM range(4)", "0,1,2,3")]
    [DataRow("SELECT * FROM range(2, 5)", "2,3,4")]
    [DataRow("SELECT * FROM range(10, 0, -4)", "10,6,2")]
    [DataRow("SELECT * FROM range(0, 10, 3, 8)", "0,3,6,9")]
    [DataRow("SELECT id * 2 AS twice FROM range(3) WHERE id > 0", "2,4")]
    public async Task SparkSqlRange_HasColumnIdAndSparkArguments(string sql, string expected)
    {
        var client = Client();
        var (fields, rows, _) = await client.QueryAsync(await client.SqlAsync(sql));
        Assert.AreEqual(sql.StartsWith("SELECT *", StringComparison.Ordinal) ? "id" : "twice", fields.Single().Name);
        Assert.AreEqual(TypeKind.Long, fields.Single().Type.Kind);
        Assert.AreEqual(expected, string.Join(',', rows.Text()));
    }

    [TestMethod]
    public async Task ListRangeFunction_StillDuckDbs()
    {
        // range() as a scalar (a list) is DuckDB's and untouched by the table macro.
        var (_, rows, _) = await Client().QueryAsync(Sql("SELECT range(1, 4) AS l"));
        Assert.AreEqual("[1,2,3]", rows.Text().Single());
    }

    [TestMethod]
    public async Task CurrentUser_IsTheSessionsUser()
    {
        foreach (var user in new[] { "alice", "o'brien" })
        {
            var client = Client(user);
            var (_, rows, _) = await client.QueryAsync(await client.SqlAsync("SELECT current_user() AS a, current_user AS b, user() AS c, session_user() AS d"));
            Assert.AreEqual($"{user}|{user}|{user}|{user}", rows.Text().Single());
        }
    }

    [TestMethod]
    public async Task CurrentUser_ThroughTheGateway_IsTheAuthenticatedUser()
    {
        var client = SharedGateway.Host.Client("bob");
        var (_, rows, _) = await client.QueryAsync(await client.SqlAsync("SELECT current_user()"));
        Assert.AreEqual("bob", rows.Text().Single());
    }

    [TestMethod]
    public async Task Aggregate_AliasedGroupingExpression_GroupsByExpressionAndNamesByAlias()
    {
        var client = Client();
        var aggregate = new Aggregate { Input = Range(10), GroupType = Aggregate.Types.GroupType.Groupby };
        aggregate.GroupingExpressions.Add(Expr("id % 3").As("k"));
        aggregate.AggregateExpressions.Add(Fn("count", Col("id")).As("n"));
        var (fields, rows, _) = await client.QueryAsync(new Relation { Aggregate = aggregate }.OrderBy("k"));
        CollectionAssert.AreEqual(new[] { "k", "n" }, fields.Select(f => f.Name).ToArray());
        CollectionAssert.AreEqual(new[] { "0|4", "1|3", "2|3" }, rows.Text());
    }
}

/// <summary>The same tests through a real gateway that routes each user to an embedded local engine.</summary>
[TestClass]
public sealed class SqlRelationTestsThroughGateway : SqlRelationTests
{
    internal override SparkClient Client(string user = "alice") => SharedGateway.Host.Client(user);
}
