using Apache.Arrow.Types;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Types;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Types;

[TestClass]
public sealed class TypeMappingTests
{
    [TestMethod]
    [DataRow("BOOLEAN", "boolean")]
    [DataRow("TINYINT", "tinyint")]
    [DataRow("SMALLINT", "smallint")]
    [DataRow("INTEGER", "int")]
    [DataRow("BIGINT", "bigint")]
    [DataRow("HUGEINT", "decimal(38,0)")]
    [DataRow("UBIGINT", "decimal(20,0)")]
    [DataRow("FLOAT", "float")]
    [DataRow("DOUBLE", "double")]
    [DataRow("DECIMAL(10,3)", "decimal(10,3)")]
    [DataRow("VARCHAR", "string")]
    [DataRow("UUID", "string")]
    [DataRow("BLOB", "binary")]
    [DataRow("DATE", "date")]
    [DataRow("TIMESTAMP", "timestamp_ntz")]
    [DataRow("TIMESTAMP WITH TIME ZONE", "timestamp")]
    [DataRow("INTEGER[]", "array<int>")]
    [DataRow("INTEGER[][]", "array<array<int>>")]
    [DataRow("STRUCT(a INTEGER, \"b c\" VARCHAR[])", "struct<a:int,b c:array<string>>")]
    [DataRow("MAP(VARCHAR, DOUBLE)", "map<string,double>")]
    public void DuckDbType_MapsToSparkType(string duckDb, string spark)
    {
        Assert.AreEqual(spark, DuckDbTypeParser.Parse(duckDb).SimpleString);
    }

    [TestMethod]
    public void NestedTypes_RoundTripThroughProtoAndArrow()
    {
        var type = DuckDbTypeParser.Parse("STRUCT(a DECIMAL(12,2), m MAP(VARCHAR, TIMESTAMP WITH TIME ZONE)[])");
        Assert.AreEqual(type.SimpleString, EngineType.FromProto(type.ToProto()).SimpleString);
        var arrow = type.ToArrow("UTC");
        Assert.IsInstanceOfType<StructType>(arrow);
        Assert.AreEqual(type.SimpleString, EngineType.FromArrow(arrow).SimpleString);
        var timestamp = (TimestampType)EngineType.Timestamp.ToArrow("Europe/Berlin");
        Assert.AreEqual(TimeUnit.Microsecond, timestamp.Unit);
        Assert.AreEqual("Europe/Berlin", timestamp.Timezone);
    }

    [TestMethod]
    public void UnsignedAndHugeInt_CarryCasts()
    {
        Assert.AreEqual("DECIMAL(38,0)", DuckDbTypeParser.Parse("HUGEINT").DuckDbCast);
        Assert.IsTrue(DuckDbTypeParser.Parse("UINTEGER[]").NeedsCast);
        Assert.IsFalse(DuckDbTypeParser.Parse("INTEGER[]").NeedsCast);
    }

    [TestMethod]
    [DataRow("int", "int")]
    [DataRow("a INT, b STRING", "struct<a:int,b:string>")]
    [DataRow("struct<a:int,b:array<map<string,bigint>>>", "struct<a:int,b:array<map<string,bigint>>>")]
    [DataRow("decimal(10, 2)", "decimal(10,2)")]
    [DataRow("{\"type\":\"struct\",\"fields\":[{\"name\":\"x\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}}]}", "struct<x:bigint>")]
    public void SparkDdl_Parses(string ddl, string expected)
    {
        Assert.AreEqual(expected, SparkDdlParser.ParseDdl(ddl).SimpleString);
    }

    [TestMethod]
    public void ArrowBatch_AllKinds_RoundTrip()
    {
        IReadOnlyList<EngineField> fields =
        [
            new("a", EngineType.ArrayOf(EngineType.Integer)),
            new("m", EngineType.MapOf(EngineType.String, EngineType.Long)),
            new("s", EngineType.StructOf([new("x", EngineType.Date)])),
        ];
        var columns = new List<List<object?>>
        {
            new() { new List<object?> { 1, null }, null },
            new() { new List<KeyValuePair<object, object?>> { new("k", 5L) }, null },
            new() { new object?[] { new DateOnly(2020, 2, 29) }, null },
        };
        using var batch = ArrowConversion.BuildBatch(fields, columns, 2, "UTC");
        var (readFields, rows) = ArrowConversion.ReadIpcStream(ArrowConversion.ToIpcStream(batch.Schema, batch));
        Assert.AreEqual("struct<a:array<int>,m:map<string,bigint>,s:struct<x:date>>", EngineType.StructOf(readFields).SimpleString);
        CollectionAssert.AreEqual(new object?[] { 1, null }, (List<object?>)rows[0][0]!);
        Assert.AreEqual(5L, ((List<KeyValuePair<object, object?>>)rows[0][1]!).Single().Value);
        Assert.AreEqual(new DateOnly(2020, 2, 29), ((object?[])rows[0][2]!)[0]);
        Assert.IsTrue(rows[1].All(v => v is null));
    }
}
