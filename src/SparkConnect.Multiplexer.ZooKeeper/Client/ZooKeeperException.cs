namespace SparkConnect.Multiplexer.ZooKeeper.Client;

/// <summary>A ZooKeeper call failed; <see cref="Code"/> is the C client's error code.</summary>
internal sealed class ZooKeeperException : Exception
{
    public ZooKeeperException(int code, string operation, string path)
        : base($"ZooKeeper {operation} {path} failed: {ZooKeeperNative.ErrorText(code)} ({code}).")
    {
        Code = code;
    }

    public int Code { get; }

    /// <summary>Whether the call may succeed when repeated after the connection (or a new session) is back.</summary>
    public bool IsTransient => Code is ZooKeeperNative.ZConnectionLoss or ZooKeeperNative.ZOperationTimeout
        or ZooKeeperNative.ZSessionExpired or ZooKeeperNative.ZInvalidState or ZooKeeperNative.ZSessionMoved
        or ZooKeeperNative.ZClosing;
}

/// <summary>The ZooKeeper C client library is not installed; the message says how to install it.</summary>
internal sealed class ZooKeeperNativeLibraryException(string message) : InvalidOperationException(message);
