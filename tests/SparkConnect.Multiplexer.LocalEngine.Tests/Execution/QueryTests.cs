using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;
using SparkConnect.Multiplexer.LocalEngine.Types;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Execution;

[TestClass]
public sealed class QueryTests
{
    [TestMethod]
    public async Task Sql_AllMappedTypes_DecodeWithKnownValues()
    {
        var client = SharedGateway.Host.Client("alice");
        var relation = await client.SqlAsync(
            "SELECT true AS b, 1::TINYINT AS ti, 2::SMALLINT AS si, 3 AS i, 4::BIGINT AS bi, 1.5::FLOAT AS f, 2.5::DOUBLE AS d, " +
            "12.345::DECIMAL(10,3) AS de, 'abc' AS s, DATE '2024-01-02' AS dt, TIMESTAMP '2024-01-02 03:04:05.123456' AS ts, " +
            "'\\xAB'::BLOB AS bl, [1, 2, NULL] AS arr, {'a': 1, 'b': 'x'} AS st, MAP {'k': 1} AS mp, 7::UTINYINT AS ut, NULL::INTEGER AS n");
        var (fields, rows, responses) = await client.QueryAsync(relation);

        Assert.AreEqual("struct<b:boolean,ti:tinyint,si:smallint,i:int,bi:bigint,f:float,d:double,de:decimal(10,3),s:string,dt:date,ts:timestamp_ntz,bl:binary,arr:array<int>,st:struct<a:int,b:string>,mp:map<string,int>,ut:smallint,n:int>",
            EngineType.StructOf(fields).SimpleString);
        var schema = responses.First(r => r.Schema is not null).Schema;
        Assert.AreEqual(17, schema.Struct.Fields.Count);
        Assert.AreEqual(DataType.KindOneofCase.Decimal, schema.Struct.Fields[7].DataType.KindCase);
        var row = rows.Single();
        Assert.AreEqual(true, row[0]);
        Assert.AreEqual((sbyte)1, row[1]);
        Assert.AreEqual((short)2, row[2]);
        Assert.AreEqual(3, row[3]);
        Assert.AreEqual(4L, row[4]);
        Assert.AreEqual(1.5f, row[5]);
        Assert.AreEqual(2.5d, row[6]);
        Assert.AreEqual(12.345m, row[7]);
        Assert.AreEqual("abc", row[8]);
        Assert.AreEqual(new DateOnly(2024, 1, 2), row[9]);
        Assert.AreEqual(new DateTime(2024, 1, 2, 3, 4, 5).AddTicks(1234560), row[10]);
        CollectionAssert.AreEqual(new byte[] { 0xAB }, (byte[])row[11]!);
        CollectionAssert.AreEqual(new object?[] { 1, 2, null }, (List<object?>)row[12]!);
        CollectionAssert.AreEqual(new object?[] { 1, "x" }, (object?[])row[13]!);
        var map = (List<KeyValuePair<object, object?>>)row[14]!;
        Assert.AreEqual("k", map.Single().Key);
        Assert.AreEqual(1, map.Single().Value);
        Assert.AreEqual((short)7, row[15]);
        Assert.IsNull(row[16]);
        Assert.IsTrue(responses.All(r => r.SessionId == client.SessionId && r.ServerSideSessionId.Length > 0 && r.OperationId.Length > 0 && r.ResponseId.Length > 0));
    }

    [TestMethod]
    public async Task TimestampWithTimeZone_IsSparkTimestamp_InSessionZone()
    {
        var client = SharedGateway.Host.Client("alice");
        await client.Raw.ConfigAsync(new ConfigRequest { SessionId = client.SessionId, UserContext = client.UserContext, Operation = new() { Set = new() { Pairs = { new KeyValue { Key = "spark.sql.session.timeZone", Value = "Europe/Berlin" } } } } }, client.Headers);
        var relation = await client.SqlAsync("SELECT TIMESTAMPTZ '2024-01-02 03:04:05+00' AS ts");
        var (fields, rows, responses) = await client.QueryAsync(relation);
        Assert.AreEqual(TypeKind.Timestamp, fields.Single().Type.Kind);
        Assert.AreEqual(new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc), rows.Single()[0]);
        using var reader = new Apache.Arrow.Ipc.ArrowStreamReader(responses.First(r => r.ArrowBatch is not null).ArrowBatch.Data.Memory);
        Assert.AreEqual("Europe/Berlin", ((Apache.Arrow.Types.TimestampType)reader.Schema.GetFieldByIndex(0).DataType).Timezone);
        Assert.AreEqual("+-------------------+\n|                 ts|\n+-------------------+\n|2024-01-02 04:04:05|\n+-------------------+\n", await client.ShowAsync(relation));
    }

    [TestMethod]
    public async Task Range_WithStep_ReturnsIdColumn()
    {
        var client = SharedGateway.Host.Client("alice");
        var (fields, rows, _) = await client.QueryAsync(new Relation { Range = new Spark.Connect.Range { Start = 2, End = 11, Step = 3 } });
        Assert.AreEqual("id", fields.Single().Name);
        Assert.AreEqual(TypeKind.Long, fields.Single().Type.Kind);
        CollectionAssert.AreEqual(new object[] { 2L, 5L, 8L }, rows.Select(r => r[0]).ToArray());
    }

    [TestMethod]
    public async Task Relations_FilterProjectSortLimitAggregate_Translate()
    {
        var client = SharedGateway.Host.Client("alice");
        static Expression Col(string name) => new() { UnresolvedAttribute = new Expression.Types.UnresolvedAttribute { UnparsedIdentifier = name } };
        static Expression Lit(long value) => new() { Literal = new Expression.Types.Literal { Long = value } };
        static Expression Fn(string name, params Expression[] args)
        {
            var function = new Expression.Types.UnresolvedFunction { FunctionName = name };
            function.Arguments.Add(args);
            return new Expression { UnresolvedFunction = function };
        }

        var range = new Relation { Range = new Spark.Connect.Range { End = 10, Step = 1 } };
        var filter = new Relation { Filter = new Filter { Input = range, Condition = Fn(">", Col("id"), Lit(4)) } };
        var project = new Relation { Project = new Project { Input = filter } };
        project.Project.Expressions.Add(new Expression { Alias = new Expression.Types.Alias { Expr = Fn("*", Col("id"), Lit(10)), Name = { "x" } } });
        var sort = new Relation { Sort = new Sort { Input = project, Order = { new Expression.Types.SortOrder { Child = Col("x"), Direction = Expression.Types.SortOrder.Types.SortDirection.Descending } } } };
        var limit = new Relation { Limit = new Limit { Input = sort, Limit_ = 2 } };
        var (fields, rows, _) = await client.QueryAsync(limit);
        Assert.AreEqual("x", fields.Single().Name);
        CollectionAssert.AreEqual(new object[] { 90L, 80L }, rows.Select(r => r[0]).ToArray());

        var aggregate = new Relation { Aggregate = new Aggregate { Input = range, GroupType = Aggregate.Types.GroupType.Groupby } };
        aggregate.Aggregate.AggregateExpressions.Add(new Expression { Alias = new Expression.Types.Alias { Expr = Fn("sum", Col("id")), Name = { "total" } } });
        var (_, sums, _) = await client.QueryAsync(aggregate);
        Assert.AreEqual(45m, Convert.ToDecimal(sums.Single()[0], System.Globalization.CultureInfo.InvariantCulture));
    }

    [TestMethod]
    public async Task Project_UntranslatableExpression_IsUnimplementedNamingIt()
    {
        var client = SharedGateway.Host.Client("alice");
        var project = new Relation { Project = new Project { Input = new Relation { Range = new Spark.Connect.Range { End = 1, Step = 1 } } } };
        project.Project.Expressions.Add(new Expression { LambdaFunction = new Expression.Types.LambdaFunction() });
        var error = await Assert.ThrowsExactlyAsync<Grpc.Core.RpcException>(() => client.QueryAsync(project));
        Assert.AreEqual(Grpc.Core.StatusCode.Unimplemented, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "LambdaFunction");
    }

    [TestMethod]
    public async Task LargeResult_StreamsInManyBoundedBatches()
    {
        var client = SharedGateway.Host.Client("alice");
        var (_, rows, responses) = await client.QueryAsync("SELECT i, repeat('x', 100) AS pad FROM range(20000) t(i)");
        var batches = responses.Where(r => r.ArrowBatch is not null).ToList();
        Assert.AreEqual(20000, rows.Count);
        Assert.IsGreaterThan(10, batches.Count, $"expected many batches, got {batches.Count}");
        Assert.IsTrue(batches.All(b => b.ArrowBatch.Data.Length < 256 * 1024), "every batch stays near MaxBatchBytes");
        Assert.AreEqual(19999L, rows[^1][0]);
    }

    [TestMethod]
    public async Task SqlCommand_Ddl_RunsImmediately_AndDeprecatedSqlFieldWorks()
    {
        var client = SharedGateway.Host.Client("alice");
        var table = "t_" + Guid.NewGuid().ToString("N")[..8];
        var created = await client.SqlAsync($"CREATE TABLE {table} AS SELECT 42 AS answer");
        Assert.AreEqual(Relation.RelTypeOneofCase.LocalRelation, created.RelTypeCase);
#pragma warning disable CS0612 // The deprecated form is what 3.4 clients send.
        var responses = await client.ExecuteAsync(new Plan { Command = new Command { SqlCommand = new SqlCommand { Sql = $"SELECT answer FROM {table}" } } });
#pragma warning restore CS0612
        var relation = responses.Single(r => r.SqlCommandResult is not null).SqlCommandResult.Relation;
        var (_, rows, _) = await client.QueryAsync(relation);
        Assert.AreEqual(42, rows.Single()[0]);
    }

    [TestMethod]
    public async Task LocalRelation_ArrowInput_RoundTrips()
    {
        var client = SharedGateway.Host.Client("alice");
        IReadOnlyList<EngineField> fields = [new("name", EngineType.String), new("n", EngineType.Long)];
        using var batch = ArrowConversion.BuildBatch(fields, [["a", "b"], [1L, null]], 2, "UTC");
        var local = new Relation { LocalRelation = new LocalRelation { Data = Google.Protobuf.ByteString.CopyFrom(ArrowConversion.ToIpcStream(batch.Schema, batch)) } };
        var (_, rows, _) = await client.QueryAsync(local);
        Assert.AreEqual("b", rows[1][0]);
        Assert.IsNull(rows[1][1]);
    }
}
