using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Formatting;
using SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;
using SparkConnect.Multiplexer.LocalEngine.Types;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Formatting;

[TestClass]
public sealed class ShowStringTests
{
    // The people table of PySpark's DataFrame.show() documentation.
    private const string People = "SELECT * FROM (VALUES (14, 'Tom'), (23, 'Alice'), (16, 'Bob')) AS p(age, name)";

    [TestMethod]
    public async Task Show_Default_MatchesSparkDocumentation()
    {
        var client = SharedGateway.Host.Client("alice");
        var text = await client.ShowAsync(await client.SqlAsync(People));
        Assert.AreEqual("+---+-----+\n|age| name|\n+---+-----+\n| 14|  Tom|\n| 23|Alice|\n| 16|  Bob|\n+---+-----+\n", text);
    }

    [TestMethod]
    public async Task Show_TwoRows_SaysOnlyShowingTop2Rows()
    {
        var client = SharedGateway.Host.Client("alice");
        var text = await client.ShowAsync(await client.SqlAsync(People), numRows: 2);
        Assert.AreEqual("+---+-----+\n|age| name|\n+---+-----+\n| 14|  Tom|\n| 23|Alice|\n+---+-----+\nonly showing top 2 rows\n", text);
    }

    [TestMethod]
    public async Task Show_TruncateThree_CutsCellsNotHeaders()
    {
        var client = SharedGateway.Host.Client("alice");
        var text = await client.ShowAsync(await client.SqlAsync(People), truncate: 3);
        Assert.AreEqual("+---+----+\n|age|name|\n+---+----+\n| 14| Tom|\n| 23| Ali|\n| 16| Bob|\n+---+----+\n", text);
    }

    [TestMethod]
    public async Task Show_Vertical_UsesRecordBlocks()
    {
        var client = SharedGateway.Host.Client("alice");
        // Spark pads the data column to the widest shown cell and keeps the trailing blank (the docs strip it).
        var all = await client.ShowAsync(await client.SqlAsync(People), vertical: true);
        Assert.AreEqual(
            "-RECORD 0-----\n age  | 14    \n name | Tom   \n-RECORD 1-----\n age  | 23    \n name | Alice \n-RECORD 2-----\n age  | 16    \n name | Bob   \n",
            all);
        var one = await client.ShowAsync(await client.SqlAsync(People), numRows: 1, vertical: true);
        Assert.AreEqual("-RECORD 0---\n age  | 14  \n name | Tom \nonly showing top 1 row\n", one);
    }

    [TestMethod]
    public async Task Show_LongStringsNullsAndNested_FormatLikeSpark()
    {
        var client = SharedGateway.Host.Client("alice");
        var text = await client.ShowAsync(await client.SqlAsync("SELECT 'abcdefghijklmnopqrstuvwxyz' AS s, NULL::INT AS n, [1, NULL] AS a, 1.0E10::DOUBLE AS d"));
        Assert.AreEqual(
            "+--------------------+----+---------+------+\n" +
            "|                   s|   n|        a|     d|\n" +
            "+--------------------+----+---------+------+\n" +
            "|abcdefghijklmnopq...|NULL|[1, NULL]|1.0E10|\n" +
            "+--------------------+----+---------+------+\n", text);
    }

    [TestMethod]
    public void Formatter_NoTruncation_LeftAligns()
    {
        var text = ShowStringFormatter.Format(["id"], [["1"], ["22"]], hasMoreData: false, numRows: 20, truncate: 0, vertical: false);
        Assert.AreEqual("+---+\n|id |\n+---+\n|1  |\n|22 |\n+---+\n", text);
    }

    [TestMethod]
    public async Task Show_OfDdlResult_IsSparksEmptyTable()
    {
        var client = SharedGateway.Host.Client("alice");
        var created = await client.SqlAsync($"CREATE TABLE t_{Guid.NewGuid():N} (x INT)");
        Assert.AreEqual("++\n||\n++\n++\n", await client.ShowAsync(created));
    }

    [TestMethod]
    public void Formatter_EmptyVertical_SaysZeroRows()
    {
        Assert.AreEqual("(0 rows)\n", ShowStringFormatter.Format(["id"], [], false, 20, 20, vertical: true));
    }

    [TestMethod]
    [DataRow(1.0, "1.0")]
    [DataRow(0.001, "0.001")]
    [DataRow(1.0E-4, "1.0E-4")]
    [DataRow(12345678.9, "1.23456789E7")]
    [DataRow(-2.5, "-2.5")]
    public void ValueFormatter_Doubles_FollowJava(double value, string expected)
    {
        Assert.AreEqual(expected, ValueFormatter.Format(value, EngineType.Double, TimeZoneInfo.Utc));
    }

    [TestMethod]
    public void ValueFormatter_TimestampsBinaryMapsStructs()
    {
        var utc = TimeZoneInfo.Utc;
        Assert.AreEqual("2024-01-02 03:04:05.5", ValueFormatter.Format(new DateTime(2024, 1, 2, 3, 4, 5, 500), EngineType.TimestampNtz, utc));
        Assert.AreEqual("[AB 01]", ValueFormatter.Format(new byte[] { 0xAB, 0x01 }, EngineType.Binary, utc));
        var map = new List<KeyValuePair<object, object?>> { new("k", 1) };
        Assert.AreEqual("{k -> 1}", ValueFormatter.Format(map, EngineType.MapOf(EngineType.String, EngineType.Integer), utc));
        Assert.AreEqual("{1, NULL}", ValueFormatter.Format(new object?[] { 1, null }, EngineType.StructOf([new("a", EngineType.Integer), new("b", EngineType.String)]), utc));
        Assert.AreEqual("12.30", ValueFormatter.Format(12.3m, EngineType.Decimal(5, 2), utc));
    }
}
