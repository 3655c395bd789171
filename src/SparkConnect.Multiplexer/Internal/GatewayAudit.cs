using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace SparkConnect.Multiplexer.Internal;

/// <summary>
/// Audit events under a logger category of their own, <c>SparkConnect.Multiplexer.Audit</c>, so a host can route
/// them to an audit sink: sessions opened and closed, calls refused, and administrators' actions, with user, client address and engine.
/// </summary>
internal sealed partial class GatewayAudit(ILoggerFactory loggerFactory)
{
    public const string Category = "SparkConnect.Multiplexer.Audit";

    private readonly ILogger _logger = loggerFactory.CreateLogger(Category);

    [LoggerMessage(901, LogLevel.Information, "session opened: session={SessionId} user={User} client={Client} engine={EngineId} key={EngineKey}")]
    public partial void SessionOpened(string sessionId, string user, string? client, string engineId, EngineKey engineKey);

    [LoggerMessage(902, LogLevel.Information, "session closed: session={SessionId} user={User} reason={Reason}")]
    public partial void SessionClosed(string sessionId, string user, string reason);

    [LoggerMessage(903, LogLevel.Warning, "call refused: method={Method} user={User} client={Client} status={StatusCode} reason={Reason}")]
    public partial void CallRefused(string method, string user, string? client, StatusCode statusCode, string reason);

    [LoggerMessage(904, LogLevel.Warning, "admin action: admin={Admin} client={Client} action={Action} target={Target} outcome={Outcome}")]
    public partial void AdminAction(string admin, string? client, string action, string target, string outcome);
}
