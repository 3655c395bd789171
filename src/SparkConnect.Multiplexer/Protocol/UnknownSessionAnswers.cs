using System.Text;
using System.Text.Json;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>
/// What Spark's server answers for a session it does not have, for the calls that do not create one; the gateway
/// sends the same when no engine runs for the session's key (so none is launched only to say so).
/// </summary>
/// <remarks>
/// Spark (<c>SparkConnectSessionManager.getIsolatedSession</c>) raises a <c>SparkSQLException</c> of error class
/// <c>INVALID_HANDLE.SESSION_NOT_FOUND</c>, which <c>ErrorUtils.buildStatusFromThrowable</c> turns into status
/// INTERNAL and a <c>google.rpc.Status</c> in <c>grpc-status-details-bin</c> holding one <c>google.rpc.ErrorInfo</c>:
/// reason = the exception class, domain <c>org.apache.spark</c>, metadata <c>classes</c> (the class hierarchy as
/// JSON), <c>sqlState</c>, <c>errorClass</c> and <c>messageParameters</c> (JSON). No <c>errorId</c>: there is no
/// session to fetch details from. ReleaseSession (<c>getIsolatedSessionIfPresent</c>) succeeds with a
/// ReleaseSessionResponse carrying only the request's session_id. Encoded by hand (<see cref="ProtoWriter"/>): a few
/// fields do not justify a dependency on the google.rpc protos.
/// </remarks>
internal static class UnknownSessionAnswers
{
    public const string ErrorClass = "INVALID_HANDLE.SESSION_NOT_FOUND";
    public const string SqlState = "HY000";
    public const string Reason = "org.apache.spark.SparkSQLException";
    public const string Domain = "org.apache.spark";
    private const string ErrorInfoTypeUrl = "type.googleapis.com/google.rpc.ErrorInfo";

    /// <summary>Spark's <c>allClasses</c> of SparkSQLException (it walks up to, and includes, java.lang.Object).</summary>
    private static readonly string Classes = JsonSerializer.Serialize(new[]
    {
        Reason, "java.sql.SQLException", "java.lang.Exception", "java.lang.Throwable", "java.lang.Object",
    });

    /// <summary>Spark's error class for a session id that was used and then released.</summary>
    public const string ClosedErrorClass = "INVALID_HANDLE.SESSION_CLOSED";

    /// <summary>The status message, as Spark formats the error class's message.</summary>
    public static string Message(string sessionId)
        => $"[{ErrorClass}] The handle {sessionId} is invalid. Session not found. SQLSTATE: {SqlState}";

    /// <summary>Spark's message for a released session, then what the gateway adds.</summary>
    public static string ClosedMessage(string sessionId, string addendum)
        => $"[{ClosedErrorClass}] The handle {sessionId} is invalid. Session was closed. SQLSTATE: {SqlState} {addendum}";

    /// <summary>The <c>google.rpc.Status</c> for <c>grpc-status-details-bin</c> (code INTERNAL = 13).</summary>
    public static byte[] StatusDetails(string sessionId) => StatusDetails(sessionId, ErrorClass, Message(sessionId));

    /// <summary>The <c>google.rpc.Status</c> of an <c>INVALID_HANDLE</c> error of <paramref name="errorClass"/> for the session.</summary>
    public static byte[] StatusDetails(string sessionId, string errorClass, string message)
    {
        var errorInfo = new ProtoWriter()
            .String(1, Reason)
            .String(2, Domain)
            .Message(3, new ProtoWriter().String(1, "classes").String(2, Classes))
            .Message(3, new ProtoWriter().String(1, "sqlState").String(2, SqlState))
            .Message(3, new ProtoWriter().String(1, "errorClass").String(2, errorClass))
            .Message(3, new ProtoWriter().String(1, "messageParameters").String(2, JsonSerializer.Serialize(new Dictionary<string, string> { ["handle"] = sessionId })));
        return GrpcStatusResponder.StatusDetails(Grpc.Core.StatusCode.Internal, message, ErrorInfoTypeUrl, errorInfo);
    }

    /// <summary>A ReleaseSessionResponse with <c>session_id = 1</c> only, as a gRPC frame.</summary>
    public static byte[] ReleaseSessionResponseFrame(string sessionId) => GatewayRequests.Frame(new ProtoWriter().String(1, sessionId).ToArray());
}
