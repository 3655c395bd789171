using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;
using static SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure.Plans;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Execution;

/// <summary>The DataFrame operations of PySpark's getting-started guide, as plans, on a direct engine.</summary>
[TestClass]
public class RelationTests
{
    /// <summary>A client on the direct path; <see cref="RelationTestsThroughGateway"/> runs every test through the gateway.</summary>
    internal virtual SparkClient Client(string user = "alice") => SharedEngine.Client(user);

    private static Relation People() => Sql("SELECT * FROM (VALUES (1, 'ann', 10), (2, 'bob', 20), (3, 'cid', NULL)) AS t(id, name, dept)");

    private static Relation Depts() => Sql("SELECT * FROM (VALUES (10, 'eng'), (30, 'ops')) AS t(dept, title)");

    [TestMethod]
    [DataRow((int)Join.Types.JoinType.Inner, "1|ann|10|10|eng")]
    [DataRow((int)Join.Types.JoinType.LeftOuter, "1|ann|10|10|eng;2|bob|20|null|null;3|cid|null|null|null")]
    [DataRow((int)Join.Types.JoinType.RightOuter, "1|ann|10|10|eng;null|null|null|30|ops")]
    [DataRow((int)Join.Types.JoinType.FullOuter, "1|ann|10|10|eng;2|bob|20|null|null;3|cid|null|null|null;null|null|null|30|ops")]
    [DataRow((int)Join.Types.JoinType.LeftSemi, "1|ann|10")]
    [DataRow((int)Join.Types.JoinType.LeftAnti, "2|bob|20;3|cid|null")]
    public async Task Join_EveryType_WithPlanIdCondition_MatchesSpark(int joinType, string expected)
    {
        var type = (Join.Types.JoinType)joinType;
        var left = People().WithId(out var leftId);
        var right = Depts().WithId(out var rightId);

        // people.join(depts, people.dept == depts.dept, how): both sides have a column "dept".
        var joined = left.Join(right, type, Fn("==", Col("dept", leftId), Col("dept", rightId)));
        var semi = type is Join.Types.JoinType.LeftSemi or Join.Types.JoinType.LeftAnti;
        var sort = new Sort { Input = joined, Order = { Order(Col("id", leftId)) } };
        if (!semi)
        {
            sort.Order.Add(Order(Col("dept", rightId)));
        }

        var (fields, rows, _) = await Client().QueryAsync(new Relation { Sort = sort });
        var columns = type is Join.Types.JoinType.LeftSemi or Join.Types.JoinType.LeftAnti ? "id,name,dept" : "id,name,dept,dept,title";
        Assert.AreEqual(columns, string.Join(',', fields.Select(f => f.Name)));
        Assert.AreEqual(expected, string.Join(';', rows.Text()));
    }

    private static Expression.Types.SortOrder Order(Expression child)
        => new() { Child = child, Direction = Expression.Types.SortOrder.Types.SortDirection.Ascending, NullOrdering = Expression.Types.SortOrder.Types.NullOrdering.SortNullsLast };

    [TestMethod]
    [DataRow((int)Join.Types.JoinType.Inner, "dept,id,name,title", "10|1|ann|eng")]
    [DataRow((int)Join.Types.JoinType.FullOuter, "dept,id,name,title", "10|1|ann|eng;20|2|bob|null;30|null|null|ops;null|3|cid|null")]
    [DataRow((int)Join.Types.JoinType.RightOuter, "dept,id,name,title", "10|1|ann|eng;30|null|null|ops")]
    [DataRow((int)Join.Types.JoinType.LeftAnti, "dept,id,name", "20|2|bob;null|3|cid")]
    public async Task Join_UsingColumns_KeyFirstOnceAsSpark(int joinType, string columns, string expected)
    {
        var type = (Join.Types.JoinType)joinType;
        var joined = People().Join(Depts(), type, null, "dept");
        var (fields, rows, _) = await Client().QueryAsync(new Relation { Sort = new Sort { Input = joined, Order = { Order(Col("dept")), Order(Col("id")) } } });
        Assert.AreEqual(columns, string.Join(',', fields.Select(f => f.Name)));
        Assert.AreEqual(expected, string.Join(';', rows.Text()));
    }

    [TestMethod]
    public async Task Join_CrossAndSelectByPlanId_PicksEachSidesColumn()
    {
        var left = Sql("SELECT * FROM (VALUES (1), (2)) AS t(x)").WithId(out var leftId);
        var right = Sql("SELECT * FROM (VALUES (10), (20)) AS t(x)").WithId(out var rightId);
        var cross = left.Join(right, Join.Types.JoinType.Cross);
        var selected = cross.Select(Col("x", leftId).As("l"), Col("x", rightId).As("r"));
        var (_, rows, _) = await Client().QueryAsync(selected.OrderBy("l", "r"));
        CollectionAssert.AreEqual(new[] { "1|10", "1|20", "2|10", "2|20" }, rows.Text());

        // And drop(df2.x) after the join drops only the right side's x.
        var dropped = new Relation { Drop = new Drop { Input = left.Join(right, Join.Types.JoinType.Inner, Fn("==", Fn("*", Col("x", leftId), Lit(10)), Col("x", rightId))), Columns = { Col("x", rightId) } } };
        var (fields, kept, _) = await Client().QueryAsync(dropped.OrderBy("x"));
        Assert.AreEqual("x", fields.Single().Name);
        CollectionAssert.AreEqual(new[] { "1", "2" }, kept.Text());
    }

    [TestMethod]
    public async Task Join_BareNameOnBothSides_IsAmbiguousReference()
    {
        var joined = People().Join(Depts(), Join.Types.JoinType.Inner, Fn("==", Col("id"), Lit(1L))).Select(Col("dept"));
        var error = await Assert.ThrowsExactlyAsync<Grpc.Core.RpcException>(() => Client().QueryAsync(joined));
        var info = ErrorDetails.Read(error);
        Assert.AreEqual("AMBIGUOUS_REFERENCE", info.Metadata["errorClass"]);
        Assert.AreEqual("42704", info.Metadata["sqlState"]);
    }

    [TestMethod]
    public async Task Join_SubqueryAliases_ResolveQualifiedNames()
    {
        var left = new Relation { SubqueryAlias = new SubqueryAlias { Input = People(), Alias = "p" } };
        var right = new Relation { SubqueryAlias = new SubqueryAlias { Input = Depts(), Alias = "d" } };
        var joined = left.Join(right, Join.Types.JoinType.Inner, Fn("==", Col("p.dept"), Col("d.dept"))).Select(Col("p.name"), Col("d.title"));
        var (_, rows, _) = await Client().QueryAsync(joined);
        CollectionAssert.AreEqual(new[] { "ann|eng" }, rows.Text());
    }

    [TestMethod]
    public async Task WithColumns_ReplacesInPlaceAndAppends()
    {
        var with = new WithColumns { Input = People() };
        with.Aliases.Add(new Expression.Types.Alias { Expr = Fn("upper", Col("name")), Name = { "NAME" } });
        with.Aliases.Add(new Expression.Types.Alias { Expr = Fn("*", Col("id"), Lit(100)), Name = { "big" } });
        var (fields, rows, _) = await Client().QueryAsync(new Relation { WithColumns = with }.OrderBy("id"));
        Assert.AreEqual("id,name,dept,big", string.Join(',', fields.Select(f => f.Name)));
        Assert.AreEqual("1|ANN|10|100", rows.Text()[0]);
    }

    [TestMethod]
    public async Task WithColumnsRenamed_RenamesAndIgnoresMissing()
    {
        var renamed = new WithColumnsRenamed { Input = People() };
        renamed.Renames.Add(new WithColumnsRenamed.Types.Rename { ColName = "name", NewColName = "who" });
        renamed.Renames.Add(new WithColumnsRenamed.Types.Rename { ColName = "nope", NewColName = "x" });
        var (fields, _, _) = await Client().QueryAsync(new Relation { WithColumnsRenamed = renamed });
        Assert.AreEqual("id,who,dept", string.Join(',', fields.Select(f => f.Name)));
    }

    [TestMethod]
    public async Task Drop_ByNameIgnoresMissing()
    {
        var drop = new Drop { Input = People(), ColumnNames = { "dept", "missing" } };
        var (fields, _, _) = await Client().QueryAsync(new Relation { Drop = drop });
        Assert.AreEqual("id,name", string.Join(',', fields.Select(f => f.Name)));
    }

    [TestMethod]
    public async Task DropDuplicates_Subset_KeepsOneRowPerKeyAndAllColumns()
    {
        var input = Sql("SELECT * FROM (VALUES ('a', 1), ('a', 2), ('b', 3)) AS t(k, v)");
        var (fields, rows, _) = await Client().QueryAsync(new Relation { Deduplicate = new Deduplicate { Input = input, ColumnNames = { "k" } } }.OrderBy("k"));
        Assert.AreEqual("k,v", string.Join(',', fields.Select(f => f.Name)));
        CollectionAssert.AreEqual(new[] { "a", "b" }, rows.Select(r => r[0]).ToArray());
        var (_, all, _) = await Client().QueryAsync(new Relation { Deduplicate = new Deduplicate { Input = Sql("SELECT 1 AS a UNION ALL SELECT 1") } });
        Assert.HasCount(1, all);
    }

    [TestMethod]
    public async Task NaFillAndDrop_FollowSparkTypeRules()
    {
        var input = Sql("SELECT * FROM (VALUES (1, NULL, NULL::DOUBLE), (NULL, 'x', 'NaN'::DOUBLE), (3, 'y', 2.5)) AS t(i, s, d)");
        var fillNumbers = new NAFill { Input = input, Values = { new Expression.Types.Literal { Double = 0.9 } } };
        var (_, filled, _) = await Client().QueryAsync(new Relation { FillNa = fillNumbers }.OrderBy("s"));

        // A fractional value truncates into the integer column; NaN counts as missing; strings stay (nulls sort first).
        CollectionAssert.AreEqual(new[] { "1|null|0.9", "0|x|0.9", "3|y|2.5" }, filled.Text());

        var fillString = new NAFill { Input = input, Cols = { "s" }, Values = { new Expression.Types.Literal { String = "?" } } };
        var (_, strings, _) = await Client().QueryAsync(new Relation { FillNa = fillString }.Select(Col("s")).OrderBy("s"));
        CollectionAssert.AreEqual(new[] { "?", "x", "y" }, strings.Text());

        var dropAny = new NADrop { Input = input };
        Assert.AreEqual("3|y|2.5", (await Client().QueryAsync(new Relation { DropNa = dropAny })).Rows.Text().Single());
        // thresh=2: the row with 'x' has NaN as its second value, which counts as missing.
        var dropThresh = new NADrop { Input = input, MinNonNulls = 2 };
        Assert.AreEqual("3|y|2.5", (await Client().QueryAsync(new Relation { DropNa = dropThresh })).Rows.Text().Single());
        var dropSubset = new NADrop { Input = input, Cols = { "i" } };
        Assert.HasCount(2, (await Client().QueryAsync(new Relation { DropNa = dropSubset })).Rows);
    }

    [TestMethod]
    public async Task Sample_SameSeedSplitsDisjointly()
    {
        Relation Part(double lower, double upper) => new() { Sample = new Sample { Input = Range(1000), LowerBound = lower, UpperBound = upper, Seed = 7 } };
        var client = Client();
        var first = (await client.QueryAsync(Part(0, 0.3))).Rows.Select(r => (long)r[0]!).ToHashSet();
        var second = (await client.QueryAsync(Part(0.3, 1))).Rows.Select(r => (long)r[0]!).ToHashSet();
        Assert.AreEqual(1000, first.Count + second.Count);
        Assert.IsFalse(first.Overlaps(second));
        Assert.IsTrue(first.Count is > 150 and < 450, $"about 30 % expected, got {first.Count}");
        var again = (await client.QueryAsync(Part(0, 0.3))).Rows.Select(r => (long)r[0]!).ToHashSet();
        Assert.IsTrue(first.SetEquals(again), "the same seed samples the same rows");
    }

    [TestMethod]
    public async Task Union_PositionalAllAndByNameWithMissingColumns()
    {
        var a = Sql("SELECT 1 AS x, 'a' AS y");
        var b = Sql("SELECT 'b' AS y, 2 AS x");
        var byName = new SetOperation { LeftInput = a, RightInput = b, SetOpType = SetOperation.Types.SetOpType.Union, IsAll = true, ByName = true };
        var (_, rows, _) = await Client().QueryAsync(new Relation { SetOp = byName }.OrderBy("x"));
        CollectionAssert.AreEqual(new[] { "1|a", "2|b" }, rows.Text());

        var missing = new SetOperation { LeftInput = a, RightInput = Sql("SELECT 3 AS x"), SetOpType = SetOperation.Types.SetOpType.Union, IsAll = true, ByName = true, AllowMissingColumns = true };
        CollectionAssert.AreEqual(new[] { "1|a", "3|null" }, (await Client().QueryAsync(new Relation { SetOp = missing }.OrderBy("x"))).Rows.Text());

        var positional = new SetOperation { LeftInput = Sql("SELECT 1 AS x"), RightInput = Sql("SELECT 1 AS z"), SetOpType = SetOperation.Types.SetOpType.Union, IsAll = true };
        Assert.HasCount(2, (await Client().QueryAsync(new Relation { SetOp = positional })).Rows);
    }

    [TestMethod]
    public async Task DescribeAndSummary_HaveSparksRowsAndStringColumns()
    {
        var input = Sql("SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c')) AS t(n, s)");
        var (fields, rows, _) = await Client().QueryAsync(new Relation { Describe = new StatDescribe { Input = input } });
        Assert.AreEqual("summary,n,s", string.Join(',', fields.Select(f => f.Name)));
        Assert.IsTrue(fields.All(f => f.Type.Kind == SparkConnect.Multiplexer.LocalEngine.Types.TypeKind.String));
        CollectionAssert.AreEqual(new[] { "count|3|3", "mean|2.0|null", "stddev|1.0|null", "min|1|a", "max|3|c" }, rows.Text());

        var summary = new StatSummary { Input = input, Statistics = { "count", "50%", "max" } };
        CollectionAssert.AreEqual(new[] { "count|3|3", "50%|2|null", "max|3|c" }, (await Client().QueryAsync(new Relation { Summary = summary })).Rows.Text());
    }

    [TestMethod]
    public async Task Unpivot_KeepsNullsAndNamesColumns()
    {
        var input = Sql("SELECT * FROM (VALUES (1, 10, NULL), (2, 20, 21)) AS t(id, a, b)");
        var unpivot = new Unpivot { Input = input, Ids = { Col("id") }, VariableColumnName = "var", ValueColumnName = "val" };
        var (fields, rows, _) = await Client().QueryAsync(new Relation { Unpivot = unpivot }.OrderBy("id", "var"));
        Assert.AreEqual("id,var,val", string.Join(',', fields.Select(f => f.Name)));
        CollectionAssert.AreEqual(new[] { "1|a|10", "1|b|null", "2|a|20", "2|b|21" }, rows.Text());

        unpivot.Values = new Unpivot.Types.Values { Values_ = { Col("b") } };
        Assert.HasCount(2, (await Client().QueryAsync(new Relation { Unpivot = unpivot })).Rows);
    }

    [TestMethod]
    public async Task HintAndRepartition_PassRowsThrough()
    {
        var hinted = new Relation { Hint = new Hint { Input = Range(3), Name = "broadcast" } };
        var repartitioned = new Relation { RepartitionByExpression = new RepartitionByExpression { Input = hinted, NumPartitions = 4, PartitionExprs = { Col("id") } } };
        var (_, rows, _) = await Client().QueryAsync(new Relation { Repartition = new Repartition { Input = repartitioned, NumPartitions = 2 } }.OrderBy("id"));
        CollectionAssert.AreEqual(new[] { "0", "1", "2" }, rows.Text());
    }

    [TestMethod]
    public async Task UnsupportedRelation_IsUnimplementedSparkError()
    {
        var error = await Assert.ThrowsExactlyAsync<Grpc.Core.RpcException>(() => Client().QueryAsync(new Relation { Sample = new Sample { Input = Range(3), UpperBound = 1, WithReplacement = true } }));
        Assert.AreEqual(Grpc.Core.StatusCode.Unimplemented, error.StatusCode);
        var info = ErrorDetails.Read(error);
        Assert.AreEqual("UNSUPPORTED_FEATURE", info.Metadata["errorClass"]);
        StringAssert.Contains(error.Status.Detail, "sampling with replacement");
    }
}

/// <summary>The same tests through a real gateway that routes each user to an embedded local engine.</summary>
[TestClass]
public sealed class RelationTestsThroughGateway : RelationTests
{
    internal override SparkClient Client(string user = "alice") => SharedGateway.Host.Client(user);
}
