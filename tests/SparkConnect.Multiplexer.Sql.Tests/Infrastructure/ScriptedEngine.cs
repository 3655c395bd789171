using Apache.Arrow;
using Apache.Arrow.Ipc;
using Google.Protobuf;
using Grpc.Core;
using Spark.Connect;
using SparkConnect.Multiplexer.TestEngine;

namespace SparkConnect.Multiplexer.Sql.Tests.Infrastructure;

/// <summary>
/// A recording engine that answers the shell as a Spark server does: a <c>sql_command</c> comes back as its
/// relation, and running that relation gives one row (<c>n = 1</c>). A query whose text contains <c>hold</c> sends
/// <see cref="HeldProgress"/> (when set) and then holds its stream open until the client goes away, so that
/// Ctrl+C and the progress line can be seen.
/// </summary>
internal sealed class ScriptedEngine : IAsyncDisposable
{
    private ScriptedEngine(RecordingEngine engine)
    {
        Engine = engine;
        engine.Script = RespondAsync;
    }

    public RecordingEngine Engine { get; }

    /// <summary>What a held query reports before holding (Spark 4's execution_progress); none when null.</summary>
    public ExecutePlanResponse.Types.ExecutionProgress? HeldProgress { get; set; }

    public static async Task<ScriptedEngine> StartAsync(System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null)
        => new(await RecordingEngine.StartAsync("scripted", 0, certificate));

    /// <summary>The ExecutePlan requests received, parsed.</summary>
    public IReadOnlyList<ExecutePlanRequest> Executions => [.. Engine.CallsTo("ExecutePlan").Select(c => ExecutePlanRequest.Parser.ParseFrom(c.Requests[0]))];

    /// <summary>The ExecutePlan calls that ran a relation (not a sql_command) with this text.</summary>
    public IReadOnlyList<RecordedCall> QueriesContaining(string text) => [.. Engine.CallsTo("ExecutePlan").Where(c =>
        ExecutePlanRequest.Parser.ParseFrom(c.Requests[0]) is { Plan.Root.Sql.Query: { } query } && query.Contains(text, StringComparison.Ordinal))];

    public ValueTask DisposeAsync() => Engine.DisposeAsync();

    /// <summary>The status ReleaseSession fails with (Spark before 4.0 answers UNIMPLEMENTED); null: it succeeds.</summary>
    public StatusCode? ReleaseSessionFailure { get; set; }

    private async Task RespondAsync(RecordedCall call, ServerCallContext context, Func<byte[], Task> write)
    {
        if (call.Method == "ReleaseSession" && ReleaseSessionFailure is { } failure)
        {
            throw new RpcException(new Status(failure, $"ReleaseSession fails with {failure} here."));
        }

        if (call.Method != "ExecutePlan")
        {
            return;
        }

        var request = ExecutePlanRequest.Parser.ParseFrom(call.Requests[0]);
        ExecutePlanResponse Response() => new() { SessionId = request.SessionId, ServerSideSessionId = Engine.Name, OperationId = request.OperationId };
        if (request.Plan.Command?.SqlCommand is { } command)
        {
            var relation = Response();
            relation.SqlCommandResult = new ExecutePlanResponse.Types.SqlCommandResult { Relation = command.Input };
            await write(relation.ToByteArray());
        }
        else if (request.Plan.Root?.Sql?.Query is { } query)
        {
            if (query.Contains("hold", StringComparison.Ordinal))
            {
                if (HeldProgress is { } progress)
                {
                    var update = Response();
                    update.ExecutionProgress = progress;
                    await write(update.ToByteArray());
                }

                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            }

            var batch = Response();
            batch.ArrowBatch = new ExecutePlanResponse.Types.ArrowBatch { RowCount = 1, Data = ByteString.CopyFrom(OneRow()) };
            await write(batch.ToByteArray());
        }

        var complete = Response();
        complete.ResultComplete = new ExecutePlanResponse.Types.ResultComplete();
        await write(complete.ToByteArray());
    }

    private static byte[] OneRow()
    {
        var batch = new RecordBatch.Builder().Append("n", nullable: false, c => c.Int32(b => b.Append(1))).Build();
        using var stream = new MemoryStream();
        using (var writer = new ArrowStreamWriter(stream, batch.Schema, leaveOpen: true))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }

        return stream.ToArray();
    }
}
