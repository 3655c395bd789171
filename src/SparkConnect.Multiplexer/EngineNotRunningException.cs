namespace SparkConnect.Multiplexer;

/// <summary>
/// Thrown by an <see cref="IEngineLocator"/> asked with <see cref="EngineRequest.MayLaunch"/> =
/// <see langword="false"/> when no engine runs for the request's key. The gateway then launches nothing and answers
/// the call as Spark answers it for a session it does not have (ReleaseSession succeeds; the others fail with
/// <c>INVALID_HANDLE.SESSION_NOT_FOUND</c>), or, for a session it had bound, reports the engine lost.
/// </summary>
public sealed class EngineNotRunningException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EngineNotRunningException()
        : this("No engine runs for the engine key, and the call may not launch one.")
    {
    }

    /// <summary>Creates the exception with a message for the gateway's log.</summary>
    public EngineNotRunningException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message for the gateway's log and its cause.</summary>
    public EngineNotRunningException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for <paramref name="key"/>.</summary>
    public EngineNotRunningException(EngineKey key)
        : this($"No engine runs for {key}, and the call may not launch one.")
    {
    }
}
