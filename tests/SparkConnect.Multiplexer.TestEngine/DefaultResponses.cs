using Google.Protobuf;
using Spark.Connect;

namespace SparkConnect.Multiplexer.TestEngine;

/// <summary>Minimal valid responses: the session id and the engine's name as server_side_session_id.</summary>
public static class DefaultResponses
{
    /// <summary>The response of a unary method (FutureRpc answers like Config).</summary>
    public static byte[] Unary(string method, string sessionId, string engineName) => method switch
    {
        "AnalyzePlan" => new AnalyzePlanResponse { SessionId = sessionId, ServerSideSessionId = engineName }.ToByteArray(),
        "ArtifactStatus" => new ArtifactStatusesResponse { SessionId = sessionId, ServerSideSessionId = engineName }.ToByteArray(),
        "Interrupt" => new InterruptResponse { SessionId = sessionId, ServerSideSessionId = engineName }.ToByteArray(),
        "ReleaseExecute" => new ReleaseExecuteResponse { SessionId = sessionId, ServerSideSessionId = engineName }.ToByteArray(),
        "ReleaseSession" => new ReleaseSessionResponse { SessionId = sessionId, ServerSideSessionId = engineName }.ToByteArray(),
        "FetchErrorDetails" => new FetchErrorDetailsResponse { SessionId = sessionId, ServerSideSessionId = engineName }.ToByteArray(),
        "CloneSession" => new CloneSessionResponse { SessionId = sessionId, ServerSideSessionId = engineName }.ToByteArray(),
        "GetStatus" => new GetStatusResponse { SessionId = sessionId, ServerSideSessionId = engineName }.ToByteArray(),
        _ => new ConfigResponse { SessionId = sessionId, ServerSideSessionId = engineName }.ToByteArray(),
    };

    /// <summary>An ExecutePlan stream: two arrow batches then result_complete.</summary>
    public static IEnumerable<byte[]> Execution(string sessionId, string engineName, string operationId)
    {
        for (var i = 0; i < 2; i++)
        {
            yield return ExecutionResponse(sessionId, engineName, operationId, i, rowCount: 1, arrowData: [(byte)i]);
        }

        yield return new ExecutePlanResponse
        {
            SessionId = sessionId,
            ServerSideSessionId = engineName,
            OperationId = operationId,
            ResponseId = "r-complete",
            ResultComplete = new ExecutePlanResponse.Types.ResultComplete(),
        }.ToByteArray();
    }

    /// <summary>One ExecutePlan response carrying an arrow batch.</summary>
    public static byte[] ExecutionResponse(string sessionId, string engineName, string operationId, int index, long rowCount, byte[] arrowData)
        => new ExecutePlanResponse
        {
            SessionId = sessionId,
            ServerSideSessionId = engineName,
            OperationId = operationId,
            ResponseId = "r-" + index,
            ArrowBatch = new ExecutePlanResponse.Types.ArrowBatch { RowCount = rowCount, Data = ByteString.CopyFrom(arrowData) },
        }.ToByteArray();
}
