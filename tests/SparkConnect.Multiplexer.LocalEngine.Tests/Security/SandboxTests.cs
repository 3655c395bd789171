using Grpc.Core;
using Grpc.Net.Client;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Security;

/// <summary>
/// Users' SQL must not get the powers of the process the engine runs in (the gateway's, when embedded): every probe
/// goes through the real Spark Connect path (gateway or engine gRPC), as a client sends it.
/// </summary>
[TestClass]
public sealed class SandboxTests
{
    private static string _outside = "";

    [ClassInitialize]
    public static void CreateOutsideFile(TestContext context)
    {
        _ = context;
        _outside = Path.Combine(Directory.CreateTempSubdirectory("sandbox-outside-").FullName, "secret.csv");
        File.WriteAllText(_outside, "key,value\ndb.password,hunter2\n");
    }

    [ClassCleanup]
    public static void DeleteOutsideFile() => Directory.Delete(Path.GetDirectoryName(_outside)!, recursive: true);

    private static async Task<Rpc.ErrorInfo> RefusedAsync(SparkClient client, string sql)
    {
        var error = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
        {
            var relation = await client.SqlAsync(sql);
            await client.QueryAsync(relation);
        }, sql);
        return ErrorDetails.Read(error);
    }

    [TestMethod]
    [DataRow("SELECT * FROM read_text('{0}')")]
    [DataRow("SELECT * FROM read_csv('{0}')")]
    [DataRow("SELECT * FROM read_text('/etc/passwd')")]
    [DataRow("SELECT * FROM glob('/etc/*')")]
    [DataRow("ATTACH '{0}.db' AS stolen")]
    [DataRow("INSTALL httpfs")]
    [DataRow("LOAD httpfs")]
    [DataRow("SELECT * FROM read_text('http://127.0.0.1:9/x')")]
    public async Task Sql_FileNetworkOrExtensionOutsideDataDirectory_IsInsufficientPermissions(string template)
    {
        var client = SharedGateway.Host.Client("alice");
        var info = await RefusedAsync(client, string.Format(System.Globalization.CultureInfo.InvariantCulture, template, _outside));
        Assert.AreEqual("INSUFFICIENT_PERMISSIONS", info.Metadata["errorClass"]);
        Assert.AreEqual("42501", info.Metadata["sqlState"]);
        Assert.AreEqual("org.apache.spark.SparkSecurityException", info.Reason);
        Assert.DoesNotContain("hunter2", info.ToString());
    }

    [TestMethod]
    public async Task Copy_ToFileOutsideDataDirectory_IsRefusedAndWritesNothing()
    {
        var client = SharedGateway.Host.Client("alice");
        var target = Path.Combine(Path.GetDirectoryName(_outside)!, "out.csv");
        var info = await RefusedAsync(client, $"COPY (SELECT 'x' AS v) TO '{target}'");
        Assert.AreEqual("INSUFFICIENT_PERMISSIONS", info.Metadata["errorClass"]);
        Assert.IsFalse(File.Exists(target));

        // A relative path would land in the gateway's working directory: refused too.
        Assert.AreEqual("INSUFFICIENT_PERMISSIONS", (await RefusedAsync(client, "COPY (SELECT 'x' AS v) TO 'out.csv'")).Metadata["errorClass"]);
        Assert.IsFalse(File.Exists(Path.Combine(Environment.CurrentDirectory, "out.csv")));
    }

    [TestMethod]
    [DataRow("SET enable_external_access = true")]
    [DataRow("SET lock_configuration = false")]
    [DataRow("RESET lock_configuration")]
    [DataRow("SET allowed_directories = ['/']")]
    [DataRow("SET autoinstall_known_extensions = true")]
    [DataRow("SET GLOBAL allowed_configs = ['enable_external_access']")]
    public async Task Set_SettingThatReopensAccess_IsCannotModifyConfig(string sql)
    {
        var client = SharedGateway.Host.Client("alice");
        var info = await RefusedAsync(client, sql);
        Assert.AreEqual("CANNOT_MODIFY_CONFIG", info.Metadata["errorClass"], sql);

        // And nothing was reopened.
        Assert.AreEqual("INSUFFICIENT_PERMISSIONS", (await RefusedAsync(client, $"SELECT * FROM read_text('{_outside}')")).Metadata["errorClass"]);
    }

    [TestMethod]
    public async Task Sql_OrdinaryQueriesAndSessionTimeZone_StillWork()
    {
        var client = SharedGateway.Host.Client("alice");
        await client.SqlAsync("CREATE OR REPLACE TABLE sandbox_ok AS SELECT id FROM range(5)");
        var (_, rows, _) = await client.QueryAsync("SELECT sum(id) FROM sandbox_ok");
        Assert.AreEqual(10L, Convert.ToInt64(rows.Single()[0], System.Globalization.CultureInfo.InvariantCulture));
        await client.SqlAsync("SET TimeZone = 'Europe/Berlin'");
        var (_, zone, _) = await client.QueryAsync("SELECT current_setting('TimeZone')");
        Assert.AreEqual("Europe/Berlin", zone.Single()[0]);
    }

    [TestMethod]
    public async Task Sql_FilesInsideDataDirectory_CanBeWrittenAndRead()
    {
        var data = Directory.CreateTempSubdirectory("sandbox-data-").FullName;
        try
        {
            await using var engine = await LocalSparkConnectEngine.StartAsync(new LocalEngineOptions { DataDirectory = data });
            using var channel = GrpcChannel.ForAddress(engine.Address);
            var client = new SparkClient(new SparkConnectService.SparkConnectServiceClient(channel), "alice");
            var file = Path.Combine(data, "out.csv");
            await client.SqlAsync($"COPY (SELECT 42 AS answer) TO '{file}' (HEADER)");
            Assert.IsTrue(File.Exists(file));
            var (_, rows, _) = await client.QueryAsync(await client.SqlAsync($"SELECT answer FROM read_csv('{file}')"));
            Assert.AreEqual(42L, Convert.ToInt64(rows.Single()[0], System.Globalization.CultureInfo.InvariantCulture));

            // A path that climbs out of it is still outside.
            Assert.AreEqual("INSUFFICIENT_PERMISSIONS", (await RefusedAsync(client, $"SELECT * FROM read_text('{data}/../{Path.GetFileName(Path.GetDirectoryName(_outside))}/secret.csv')")).Metadata["errorClass"]);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [TestMethod]
    public async Task DatabasePath_OutsideDataDirectory_StillPersistsAcrossRestarts()
    {
        var directory = Directory.CreateTempSubdirectory("sandbox-db-").FullName;
        try
        {
            var options = new LocalEngineOptions { DatabasePath = Path.Combine(directory, "engine.duckdb") };
            await using (var engine = await LocalSparkConnectEngine.StartAsync(options))
            {
                using var channel = GrpcChannel.ForAddress(engine.Address);
                var client = new SparkClient(new SparkConnectService.SparkConnectServiceClient(channel), "alice");
                await client.SqlAsync("CREATE TABLE kept AS SELECT id FROM range(100000)");
                await client.SqlAsync("CHECKPOINT");
            }

            await using (var engine = await LocalSparkConnectEngine.StartAsync(options))
            {
                using var channel = GrpcChannel.ForAddress(engine.Address);
                var client = new SparkClient(new SparkConnectService.SparkConnectServiceClient(channel), "alice");
                var (_, rows, _) = await client.QueryAsync("SELECT count(*) FROM kept");
                Assert.AreEqual(100000L, Convert.ToInt64(rows.Single()[0], System.Globalization.CultureInfo.InvariantCulture));
                Assert.AreEqual("INSUFFICIENT_PERMISSIONS", (await RefusedAsync(client, $"ATTACH '{Path.Combine(directory, "other.duckdb")}' AS other")).Metadata["errorClass"]);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
