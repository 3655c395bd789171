using System.Text.Json;
using Grpc.Core;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Execution;

[TestClass]
public sealed class LifecycleTests
{
    [TestMethod]
    public async Task Reattach_AfterDroppedStream_ResumesAfterLastResponse()
    {
        var client = SharedGateway.Host.Client("alice");
        var operationId = Guid.NewGuid().ToString();
        var plan = new Plan { Root = new Relation { Sql = new SQL { Query = "SELECT i, repeat('y', 200) AS pad FROM range(5000) t(i)" } } };
        var first = new List<ExecutePlanResponse>();
        using (var cts = new CancellationTokenSource())
        using (var call = client.Raw.ExecutePlan(client.Request(plan, operationId, reattachable: true), client.Headers, cancellationToken: cts.Token))
        {
            while (first.Count < 3 && await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                first.Add(call.ResponseStream.Current);
            }

            // Drop the stream as a broken connection would.
            await cts.CancelAsync();
        }

        var rest = new List<ExecutePlanResponse>();
        using (var reattach = client.Raw.ReattachExecute(new ReattachExecuteRequest { SessionId = client.SessionId, UserContext = client.UserContext, OperationId = operationId, LastResponseId = first[^1].ResponseId }, client.Headers))
        {
            await foreach (var response in reattach.ResponseStream.ReadAllAsync())
            {
                rest.Add(response);
            }
        }

        var (_, rows, _) = SparkClient.Decode([.. first, .. rest]);
        Assert.AreEqual(5000, rows.Count);
        CollectionAssert.AreEqual(Enumerable.Range(0, 5000).Select(i => (object)(long)i).ToArray(), rows.Select(r => r[0]).ToArray());
        await client.Raw.ReleaseExecuteAsync(new ReleaseExecuteRequest { SessionId = client.SessionId, UserContext = client.UserContext, OperationId = operationId, ReleaseAll = new() }, client.Headers);
        var gone = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
        {
            using var again = client.Raw.ReattachExecute(new ReattachExecuteRequest { SessionId = client.SessionId, UserContext = client.UserContext, OperationId = operationId }, client.Headers);
            await again.ResponseStream.MoveNext(CancellationToken.None);
        });
        Assert.AreEqual("INVALID_HANDLE.OPERATION_NOT_FOUND", ErrorDetails.Read(gone).Metadata["errorClass"]);
    }

    [TestMethod]
    public async Task Interrupt_ByOperationId_CancelsLongQuery()
    {
        var client = SharedGateway.Host.Client("alice");
        var operationId = Guid.NewGuid().ToString();
        var plan = new Plan { Root = new Relation { Sql = new SQL { Query = "SELECT count(*) FROM range(100000000000)" } } };
        using var call = client.Raw.ExecutePlan(client.Request(plan, operationId), client.Headers);
        var reading = Task.Run(async () =>
        {
            await foreach (var _ in call.ResponseStream.ReadAllAsync())
            {
            }
        });
        InterruptResponse interrupted;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        do
        {
            await Task.Delay(100);
            interrupted = await client.Raw.InterruptAsync(new InterruptRequest { SessionId = client.SessionId, UserContext = client.UserContext, InterruptType = InterruptRequest.Types.InterruptType.OperationId, OperationId = operationId }, client.Headers);
        }
        while (interrupted.InterruptedIds.Count == 0 && watch.Elapsed < TimeSpan.FromSeconds(10));

        CollectionAssert.Contains(interrupted.InterruptedIds, operationId);
        var error = await Assert.ThrowsExactlyAsync<RpcException>(() => reading);
        Assert.AreEqual("OPERATION_CANCELED", ErrorDetails.Read(error).Metadata["errorClass"]);
        Assert.IsLessThan(TimeSpan.FromSeconds(15), watch.Elapsed);
    }

    [TestMethod]
    public async Task MissingTable_FailsWithSparkErrorInfo_AndFetchErrorDetails()
    {
        var client = SharedGateway.Host.Client("bob");
        var error = await Assert.ThrowsExactlyAsync<RpcException>(() => client.QueryAsync("SELECT * FROM no_such_table"));
        Assert.AreEqual(StatusCode.Internal, error.StatusCode);
        var info = ErrorDetails.Read(error);
        Assert.AreEqual("org.apache.spark", info.Domain);
        Assert.AreEqual("org.apache.spark.sql.AnalysisException", info.Reason);
        Assert.AreEqual("TABLE_OR_VIEW_NOT_FOUND", info.Metadata["errorClass"]);
        Assert.AreEqual("42P01", info.Metadata["sqlState"]);
        var parameters = JsonSerializer.Deserialize<Dictionary<string, string>>(info.Metadata["messageParameters"])!;
        Assert.AreEqual("`no_such_table`", parameters["relationName"]);
        StringAssert.StartsWith(error.Status.Detail, "[TABLE_OR_VIEW_NOT_FOUND]");

        var details = await client.Raw.FetchErrorDetailsAsync(new FetchErrorDetailsRequest { SessionId = client.SessionId, UserContext = client.UserContext, ErrorId = info.Metadata["errorId"] }, client.Headers);
        Assert.AreEqual("TABLE_OR_VIEW_NOT_FOUND", details.Errors.Single().SparkThrowable.ErrorClass);
        Assert.AreEqual(client.SessionId, details.SessionId);
    }

    [TestMethod]
    public async Task SyntaxError_IsParseSyntaxError()
    {
        var client = SharedGateway.Host.Client("bob");
        var error = await Assert.ThrowsExactlyAsync<RpcException>(() => client.QueryAsync("SELEC 1"));
        var info = ErrorDetails.Read(error);
        Assert.AreEqual("PARSE_SYNTAX_ERROR", info.Metadata["errorClass"]);
        Assert.AreEqual("org.apache.spark.sql.catalyst.parser.ParseException", info.Reason);
    }

    [TestMethod]
    public async Task ReleaseSession_ThenReuse_IsSessionClosed()
    {
        var client = SharedGateway.Host.Client("bob");
        await client.QueryAsync("SELECT 1");
        await client.Raw.ReleaseSessionAsync(new ReleaseSessionRequest { SessionId = client.SessionId, UserContext = client.UserContext }, client.Headers);
        var error = await Assert.ThrowsExactlyAsync<RpcException>(() => client.QueryAsync("SELECT 1"));
        Assert.AreEqual("INVALID_HANDLE.SESSION_CLOSED", ErrorDetails.Read(error).Metadata["errorClass"]);
    }
}
