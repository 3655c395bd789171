using Grpc.Core;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;
using SparkConnect.Multiplexer.LocalEngine.Types;
using static SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure.Plans;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Execution;

/// <summary>DataFrame readers and writers (files in the data directory, tables) on a direct engine.</summary>
[TestClass]
public sealed class DataSourceTests
{
    private static Relation People() => Sql("SELECT * FROM (VALUES (1, 'ann', 10), (2, 'bob', 20), (3, 'cid', 10)) AS t(id, name, dept)");

    private static Task<List<ExecutePlanResponse>> WriteAsync(SparkClient client, WriteOperation write)
        => client.ExecuteAsync(new Plan { Command = new Command { WriteOperation = write } });

    private static WriteOperation ToPath(Relation input, string format, string path, WriteOperation.Types.SaveMode mode = WriteOperation.Types.SaveMode.ErrorIfExists)
        => new() { Input = input, Source = format, Path = path, Mode = mode };

    private static Relation ReadFiles(string format, params string[] paths)
    {
        var source = new Read.Types.DataSource { Format = format };
        source.Paths.Add(paths);
        return new Relation { Read = new Read { DataSource = source } };
    }

    private static async Task<string> ErrorClassAsync(Func<Task> action)
    {
        var error = await Assert.ThrowsExactlyAsync<RpcException>(action);
        return ErrorDetails.Read(error).Metadata["errorClass"];
    }

    [TestMethod]
    public async Task Parquet_WriteModesAndReadBack_AsSpark()
    {
        var client = SharedEngine.Client();
        var path = Unique("people");
        await WriteAsync(client, ToPath(People(), "parquet", path));
        Assert.IsTrue(File.Exists(Path.Combine(SharedEngine.Engine.DataDirectory, path, "_SUCCESS")), "a directory of part files, as Spark writes");
        var (fields, rows, _) = await client.QueryAsync(ReadFiles("parquet", path).OrderBy("id"));
        Assert.AreEqual("id,name,dept", string.Join(',', fields.Select(f => f.Name)));
        CollectionAssert.AreEqual(new[] { "1|ann|10", "2|bob|20", "3|cid|10" }, rows.Text());

        Assert.AreEqual("PATH_ALREADY_EXISTS", await ErrorClassAsync(() => WriteAsync(client, ToPath(People(), "parquet", path))));
        await WriteAsync(client, ToPath(People(), "parquet", path, WriteOperation.Types.SaveMode.Append));
        Assert.HasCount(6, (await client.QueryAsync(ReadFiles("parquet", path))).Rows);
        await WriteAsync(client, ToPath(Range(2), "parquet", path, WriteOperation.Types.SaveMode.Ignore));
        Assert.HasCount(6, (await client.QueryAsync(ReadFiles("parquet", path))).Rows);
        await WriteAsync(client, ToPath(Range(2), "parquet", path, WriteOperation.Types.SaveMode.Overwrite));
        CollectionAssert.AreEqual(new[] { "0", "1" }, (await client.QueryAsync(ReadFiles("parquet", path).OrderBy("id"))).Rows.Text());

        // The default format is parquet, and a file name pattern reads the matching part files.
        var defaultFormat = new Relation { Read = new Read { DataSource = new Read.Types.DataSource { Paths = { path + "/part-*" } } } };
        Assert.HasCount(2, (await client.QueryAsync(defaultFormat)).Rows);
    }

    [TestMethod]
    public async Task Csv_HeaderAndInferSchemaOptions_AsSpark()
    {
        var client = SharedEngine.Client();
        var path = Unique("csv");
        var write = ToPath(People(), "csv", path);
        write.Options["header"] = "true";
        await WriteAsync(client, write);

        var withHeader = ReadFiles("csv", path);
        withHeader.Read.DataSource.Options["header"] = "true";
        withHeader.Read.DataSource.Options["inferSchema"] = "true";
        var (fields, rows, _) = await client.QueryAsync(withHeader.OrderBy("id"));
        Assert.AreEqual("id,name,dept", string.Join(',', fields.Select(f => f.Name)));
        Assert.AreNotEqual(TypeKind.String, fields[0].Type.Kind);
        Assert.AreEqual("1|ann|10", rows.Text()[0]);

        // Spark's defaults: no header (the header line is data, columns _c0…), every column a string.
        var (plainFields, plainRows, _) = await client.QueryAsync(ReadFiles("csv", path));
        Assert.AreEqual("_c0,_c1,_c2", string.Join(',', plainFields.Select(f => f.Name)));
        Assert.IsTrue(plainFields.All(f => f.Type.Kind == TypeKind.String));
        Assert.HasCount(4, plainRows);

        // A schema names and types the columns.
        var typed = ReadFiles("csv", path);
        typed.Read.DataSource.Schema = "a INT, b STRING, c BIGINT";
        typed.Read.DataSource.Options["header"] = "true";
        var (typedFields, _, _) = await client.QueryAsync(typed);
        Assert.AreEqual("a:Integer,b:String,c:Long", string.Join(',', typedFields.Select(f => $"{f.Name}:{f.Type.Kind}")));
    }

    [TestMethod]
    public async Task Json_WriteAndRead_FieldsByNameAsSpark()
    {
        var client = SharedEngine.Client();
        var path = Unique("json");
        await WriteAsync(client, ToPath(Sql("SELECT 2 AS z, 'x' AS a"), "json", path));
        var (fields, rows, _) = await client.QueryAsync(ReadFiles("json", path));
        Assert.AreEqual("a,z", string.Join(',', fields.Select(f => f.Name)));
        Assert.AreEqual("x|2", rows.Text().Single());
    }

    [TestMethod]
    public async Task PartitionBy_WritesKeyValueDirectoriesAndReadsThemBack()
    {
        var client = SharedEngine.Client();
        var path = Unique("parts");
        var write = ToPath(People(), "parquet", path);
        write.PartitioningColumns.Add("dept");
        await WriteAsync(client, write);
        Assert.IsTrue(Directory.Exists(Path.Combine(SharedEngine.Engine.DataDirectory, path, "dept=10")));
        var (_, rows, _) = await client.QueryAsync(ReadFiles("parquet", path).Select(Col("id"), Col("dept")).OrderBy("id"));
        CollectionAssert.AreEqual(new[] { "1|10", "2|20", "3|10" }, rows.Text());
    }

    [TestMethod]
    public async Task SaveAsTableAndInsertInto_FollowSaveModes()
    {
        var client = SharedEngine.Client();
        var table = Unique("saved");
        WriteOperation Save(Relation input, WriteOperation.Types.SaveMode mode, bool insert = false)
            => new() { Input = input, Mode = mode, Table = new WriteOperation.Types.SaveTable { TableName = "default." + table, SaveMethod = insert ? WriteOperation.Types.SaveTable.Types.TableSaveMethod.InsertInto : WriteOperation.Types.SaveTable.Types.TableSaveMethod.SaveAsTable } };
        async Task<string[]> RowsAsync() => (await client.QueryAsync(new Relation { Read = new Read { NamedTable = new Read.Types.NamedTable { UnparsedIdentifier = table } } }.OrderBy("id"))).Rows.Text();

        await WriteAsync(client, Save(People(), WriteOperation.Types.SaveMode.ErrorIfExists));
        Assert.HasCount(3, await RowsAsync());
        Assert.AreEqual("TABLE_OR_VIEW_ALREADY_EXISTS", await ErrorClassAsync(() => WriteAsync(client, Save(People(), WriteOperation.Types.SaveMode.ErrorIfExists))));
        await WriteAsync(client, Save(People(), WriteOperation.Types.SaveMode.Ignore));
        Assert.HasCount(3, await RowsAsync());

        // Append matches columns by name; insertInto by position.
        await WriteAsync(client, Save(Sql("SELECT 'dee' AS name, 30 AS dept, 4 AS id"), WriteOperation.Types.SaveMode.Append));
        Assert.AreEqual("4|dee|30", (await RowsAsync())[^1]);
        await WriteAsync(client, Save(Sql("SELECT 5, 'eve', 50"), WriteOperation.Types.SaveMode.Append, insert: true));
        Assert.AreEqual("5|eve|50", (await RowsAsync())[^1]);
        await WriteAsync(client, Save(Sql("SELECT 9, 'zed', 90"), WriteOperation.Types.SaveMode.Overwrite, insert: true));
        CollectionAssert.AreEqual(new[] { "9|zed|90" }, await RowsAsync());
        await WriteAsync(client, Save(Range(2), WriteOperation.Types.SaveMode.Overwrite));
        CollectionAssert.AreEqual(new[] { "0", "1" }, await RowsAsync());
    }

    [TestMethod]
    public async Task WriteTo_ModesAsDataFrameWriterV2()
    {
        var client = SharedEngine.Client();
        var table = Unique("v2");
        Task Write(Relation input, WriteOperationV2.Types.Mode mode, Expression? condition = null)
            => client.ExecuteAsync(new Plan { Command = new Command { WriteOperationV2 = new WriteOperationV2 { Input = input, TableName = table, Mode = mode, OverwriteCondition = condition } } });
        async Task<string[]> RowsAsync() => (await client.QueryAsync(Sql($"SELECT id FROM {table} ORDER BY id"))).Rows.Text();

        Assert.AreEqual("TABLE_OR_VIEW_NOT_FOUND", await ErrorClassAsync(() => Write(Range(1), WriteOperationV2.Types.Mode.Replace)));
        await Write(Range(3), WriteOperationV2.Types.Mode.Create);
        Assert.AreEqual("TABLE_OR_VIEW_ALREADY_EXISTS", await ErrorClassAsync(() => Write(Range(3), WriteOperationV2.Types.Mode.Create)));
        await Write(Range(2), WriteOperationV2.Types.Mode.Append);
        CollectionAssert.AreEqual(new[] { "0", "0", "1", "1", "2" }, await RowsAsync());
        await Write(Sql("SELECT 7::BIGINT AS id"), WriteOperationV2.Types.Mode.Overwrite, Fn("<", Col("id"), Lit(1L)));
        CollectionAssert.AreEqual(new[] { "1", "1", "2", "7" }, await RowsAsync());
        await Write(Range(1), WriteOperationV2.Types.Mode.CreateOrReplace);
        CollectionAssert.AreEqual(new[] { "0" }, await RowsAsync());
    }

    [TestMethod]
    public async Task Paths_OutsideTheDataDirectory_AreRefusedForReadsAndWrites()
    {
        var client = SharedEngine.Client();
        var outside = Directory.CreateTempSubdirectory("outside-").FullName;
        var link = Path.Combine(SharedEngine.Engine.DataDirectory, Unique("link"));
        try
        {
            File.WriteAllText(Path.Combine(outside, "secret.csv"), "key\nhunter2\n");
            Directory.CreateSymbolicLink(link, outside);
            var linkName = Path.GetFileName(link);
            foreach (var path in new[] { "../" + Path.GetFileName(outside) + "/secret.csv", Path.Combine(outside, "secret.csv"), linkName + "/secret.csv", linkName, "s3a://bucket/data", "/etc/passwd" })
            {
                var read = await Assert.ThrowsExactlyAsync<RpcException>(() => client.QueryAsync(ReadFiles("csv", path)), path);
                var info = ErrorDetails.Read(read);
                Assert.AreEqual("INSUFFICIENT_PERMISSIONS", info.Metadata["errorClass"], path);
                StringAssert.Contains(read.Status.Detail, "data directory", path);
                Assert.DoesNotContain("hunter2", read.Status.Detail);
                Assert.AreEqual("INSUFFICIENT_PERMISSIONS", await ErrorClassAsync(() => WriteAsync(client, ToPath(Range(1), "csv", path, WriteOperation.Types.SaveMode.Overwrite))), path);
            }

            CollectionAssert.AreEqual(new[] { "secret.csv" }, Directory.GetFiles(outside).Select(Path.GetFileName).ToArray(), "nothing was written or deleted outside");
        }
        finally
        {
            File.Delete(link);
            Directory.Delete(outside, recursive: true);
        }
    }

    [TestMethod]
    public async Task Read_MissingPathOrUnsupportedFormat_AreSparkErrors()
    {
        var client = SharedEngine.Client();
        Assert.AreEqual("PATH_NOT_FOUND", await ErrorClassAsync(() => client.QueryAsync(ReadFiles("parquet", Unique("missing")))));
        var orc = await Assert.ThrowsExactlyAsync<RpcException>(() => client.QueryAsync(ReadFiles("orc", "x")));
        Assert.AreEqual(StatusCode.Unimplemented, orc.StatusCode);
        StringAssert.Contains(orc.Status.Detail, "orc");
    }

    [TestMethod]
    public async Task DefaultDataDirectory_IsPerEngineAndGoesWithIt()
    {
        var engine = await LocalSparkConnectEngine.StartAsync(new LocalEngineOptions());
        string directory;
        using (var channel = Grpc.Net.Client.GrpcChannel.ForAddress(engine.Address))
        {
            var client = new SparkClient(new SparkConnectService.SparkConnectServiceClient(channel), "alice");
            await WriteAsync(client, ToPath(Range(3), "parquet", "numbers"));
            Assert.HasCount(3, (await client.QueryAsync(ReadFiles("parquet", "numbers"))).Rows);
            var databases = (await client.QueryAsync(new Relation { Catalog = new Catalog { ListDatabases = new ListDatabases() } })).Rows;
            directory = ((string)databases.Single()[3]!)["file:".Length..];
            Assert.IsTrue(File.Exists(Path.Combine(directory, "numbers", "_SUCCESS")));
        }

        await engine.DisposeAsync();
        Assert.IsFalse(Directory.Exists(directory), "the engine's own data directory goes with it");
    }
}
