using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace SparkConnect.Multiplexer.ZooKeeper.Client;

/// <summary>
/// The official Apache ZooKeeper C client (<c>libzookeeper_mt</c>), multi-threaded flavour, through P/Invoke. Only
/// the asynchronous API is used: every call returns at once and its completion runs on the library's completion
/// thread. Callbacks are static <see cref="UnmanagedCallersOnlyAttribute"/> functions (nothing for the GC to collect);
/// the <c>data</c>/<c>watcherCtx</c> pointers are ids into managed tables, never object addresses. Callbacks never
/// throw and never block: they complete a task (continuations run asynchronously) or queue work.
/// </summary>
internal static unsafe partial class ZooKeeperNative
{
    public const string LibraryName = "zookeeper_mt";

    // Error codes (ZOO_ERRORS in zookeeper.h): an enum, so compile-time constants.
    public const int ZOk = 0;
    public const int ZConnectionLoss = -4;
    public const int ZOperationTimeout = -7;
    public const int ZInvalidState = -9;
    public const int ZNoNode = -101;
    public const int ZNodeExists = -110;
    public const int ZNotEmpty = -111;
    public const int ZSessionExpired = -112;
    public const int ZClosing = -116;
    public const int ZSessionMoved = -118;

    private const int LogLevelWarn = 2;

    private static readonly Lock LoadGate = new();
    private static readonly ConcurrentDictionary<long, TaskCompletionSource<ZooKeeperResult>> Pending = new();
    private static readonly ConcurrentDictionary<long, Action<ZooKeeperWatchEvent>> Watchers = new();
    private static readonly ConcurrentDictionary<long, Action<nint, int>> SessionWatchers = new();
    private static long s_nextId;
    private static nint s_library;
    private static volatile ILogger? s_nativeLog;

    static ZooKeeperNative()
    {
        NativeLibrary.SetDllImportResolver(typeof(ZooKeeperNative).Assembly, Resolve);
    }

    public static int Persistent { get; private set; }

    public static int Ephemeral { get; private set; }

    public static int PersistentSequential { get; private set; }

    public static int EphemeralSequential { get; private set; }

    public static int ExpiredSessionState { get; private set; }

    public static int AuthFailedState { get; private set; }

    public static int ConnectedState { get; private set; }

    public static int ReadOnlyState { get; private set; }

    public static int CreatedEvent { get; private set; }

    public static int DeletedEvent { get; private set; }

    public static int ChangedEvent { get; private set; }

    public static int ChildEvent { get; private set; }

    public static int SessionEvent { get; private set; }

    public static nint OpenAclUnsafe { get; private set; }

    /// <summary>Where the library's own log lines go (warnings and errors only, at debug level).</summary>
    public static ILogger? NativeLog
    {
        get => s_nativeLog;
        set => s_nativeLog = value;
    }

    /// <summary>
    /// Loads the library (once per process) and reads its constants.
    /// </summary>
    /// <param name="path">A full path to the library, or <see langword="null"/> to search the usual names.</param>
    /// <exception cref="ZooKeeperNativeLibraryException">The library is not installed.</exception>
    public static void EnsureLoaded(string? path)
    {
        lock (LoadGate)
        {
            if (s_library != 0)
            {
                return;
            }

            s_library = Load(string.IsNullOrWhiteSpace(path) ? Candidates() : [path]);
            Persistent = ReadConstant("ZOO_PERSISTENT");
            Ephemeral = ReadConstant("ZOO_EPHEMERAL");
            PersistentSequential = ReadConstant("ZOO_PERSISTENT_SEQUENTIAL");
            EphemeralSequential = ReadConstant("ZOO_EPHEMERAL_SEQUENTIAL");
            ExpiredSessionState = ReadConstant("ZOO_EXPIRED_SESSION_STATE");
            AuthFailedState = ReadConstant("ZOO_AUTH_FAILED_STATE");
            ConnectedState = ReadConstant("ZOO_CONNECTED_STATE");
            ReadOnlyState = ReadConstant("ZOO_READONLY_STATE");
            CreatedEvent = ReadConstant("ZOO_CREATED_EVENT");
            DeletedEvent = ReadConstant("ZOO_DELETED_EVENT");
            ChangedEvent = ReadConstant("ZOO_CHANGED_EVENT");
            ChildEvent = ReadConstant("ZOO_CHILD_EVENT");
            SessionEvent = ReadConstant("ZOO_SESSION_EVENT");
            OpenAclUnsafe = NativeLibrary.GetExport(s_library, "ZOO_OPEN_ACL_UNSAFE");
            zoo_set_debug_level(LogLevelWarn);
        }
    }

    /// <summary>Loads the first of <paramref name="candidates"/> that loads.</summary>
    /// <exception cref="ZooKeeperNativeLibraryException">None loads; the message says what to install.</exception>
    public static nint Load(IEnumerable<string> candidates)
    {
        var tried = new List<string>();
        string? lastError = null;
        foreach (var candidate in candidates)
        {
            tried.Add(candidate);
            try
            {
                return NativeLibrary.Load(candidate);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                lastError = e.Message;
            }
        }

        throw new ZooKeeperNativeLibraryException(
            $"The Apache ZooKeeper C client library could not be loaded (tried {string.Join(", ", tried)}; {lastError}). "
            + "Install it: Debian/Ubuntu 'apt-get install libzookeeper-mt2', RHEL/Fedora 'dnf install zookeeper-native', "
            + "macOS 'brew install zookeeper'; or set " + ZooKeeperOptions.SectionName + ":NativeLibraryPath to the library file.");
    }

    public static string ErrorText(int rc)
    {
        var text = zerror(rc);
        return text == 0 ? $"error {rc}" : Marshal.PtrToStringUTF8(text) ?? $"error {rc}";
    }

    // ---- Managed tables the native pointers index ----

    public static long NewId() => Interlocked.Increment(ref s_nextId);

    public static (long Id, Task<ZooKeeperResult> Task) NewPending()
    {
        var id = NewId();
        var completion = new TaskCompletionSource<ZooKeeperResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        Pending[id] = completion;
        return (id, completion.Task);
    }

    public static void DropPending(long id) => Pending.TryRemove(id, out _);

    /// <summary>Registers a node watcher; the id is the watcher context. It stays until removed (the C client de-duplicates a watcher context per path).</summary>
    public static long AddWatcher(Action<ZooKeeperWatchEvent> handler)
    {
        var id = NewId();
        Watchers[id] = handler;
        return id;
    }

    public static void RemoveWatcher(long id) => Watchers.TryRemove(id, out _);

    public static long AddSessionWatcher(Action<nint, int> handler)
    {
        var id = NewId();
        SessionWatchers[id] = handler;
        return id;
    }

    public static void RemoveSessionWatcher(long id) => SessionWatchers.TryRemove(id, out _);

    // ---- Function pointers for the callbacks ----

    public static nint WatcherCallback => (nint)(delegate* unmanaged[Cdecl]<nint, int, int, byte*, nint, void>)&OnWatch;

    public static nint SessionCallback => (nint)(delegate* unmanaged[Cdecl]<nint, int, int, byte*, nint, void>)&OnSessionWatch;

    public static nint StringCompletion => (nint)(delegate* unmanaged[Cdecl]<int, byte*, nint, void>)&OnString;

    public static nint VoidCompletion => (nint)(delegate* unmanaged[Cdecl]<int, nint, void>)&OnVoid;

    public static nint StatCompletion => (nint)(delegate* unmanaged[Cdecl]<int, ZooKeeperStat*, nint, void>)&OnStat;

    public static nint DataCompletion => (nint)(delegate* unmanaged[Cdecl]<int, byte*, int, ZooKeeperStat*, nint, void>)&OnData;

    public static nint StringsCompletion => (nint)(delegate* unmanaged[Cdecl]<int, StringVector*, nint, void>)&OnStrings;

    public static nint LogCallback => (nint)(delegate* unmanaged[Cdecl]<byte*, void>)&OnLog;

    // ---- The C API ----

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint zookeeper_init2(string host, nint watcher, int recvTimeout, ClientId* clientId, nint context, int flags, nint logCallback);

    [LibraryImport(LibraryName)]
    public static partial int zookeeper_close(nint zh);

    [LibraryImport(LibraryName)]
    public static partial ClientId* zoo_client_id(nint zh);

    [LibraryImport(LibraryName)]
    public static partial int zoo_state(nint zh);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int zoo_acreate(nint zh, string path, byte* value, int valueLength, nint acl, int mode, nint completion, nint data);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int zoo_adelete(nint zh, string path, int version, nint completion, nint data);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int zoo_awexists(nint zh, string path, nint watcher, nint watcherContext, nint completion, nint data);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int zoo_awget(nint zh, string path, nint watcher, nint watcherContext, nint completion, nint data);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int zoo_awget_children(nint zh, string path, nint watcher, nint watcherContext, nint completion, nint data);

    [LibraryImport(LibraryName)]
    private static partial nint zerror(int rc);

    /// <summary><c>zoo_acreate</c> with the data pinned for the call (the C client copies it before returning).</summary>
    public static int Create(nint zh, string path, byte[]? data, int mode, nint id)
    {
        fixed (byte* value = data)
        {
            return zoo_acreate(zh, path, data is null ? null : value, data?.Length ?? -1, OpenAclUnsafe, mode, StringCompletion, id);
        }
    }

    [LibraryImport(LibraryName)]
    private static partial void zoo_set_debug_level(int level);

    private static IEnumerable<string> Candidates()
    {
        if (OperatingSystem.IsMacOS())
        {
            return ["libzookeeper_mt.2.dylib", "libzookeeper_mt.dylib", "/opt/homebrew/lib/libzookeeper_mt.dylib", "/usr/local/lib/libzookeeper_mt.dylib"];
        }

        return ["libzookeeper_mt.so.2", "libzookeeper_mt.so", "libzookeeper-mt.so.2"];
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != LibraryName)
        {
            return 0;
        }

        if (s_library == 0)
        {
            EnsureLoaded(null);
        }

        return s_library;
    }

    private static int ReadConstant(string name) => Marshal.ReadInt32(NativeLibrary.GetExport(s_library, name));

    private static string? Utf8(byte* text) => text is null ? null : Marshal.PtrToStringUTF8((nint)text);

    private static void Complete(nint data, ZooKeeperResult result)
    {
        if (Pending.TryRemove(data, out var completion))
        {
            completion.TrySetResult(result);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnWatch(nint zh, int type, int state, byte* path, nint context)
    {
        try
        {
            // Session events reach every node watcher too; those are handled by the session watcher.
            if (type == SessionEvent || !Watchers.TryGetValue(context, out var handler))
            {
                return;
            }

            var watchEvent = new ZooKeeperWatchEvent(type, Utf8(path) ?? "");
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Handler(s.Event), (Handler: handler, Event: watchEvent), preferLocal: false);
        }
        catch
        {
            // Nothing may cross back into native code.
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnSessionWatch(nint zh, int type, int state, byte* path, nint context)
    {
        try
        {
            if (type == SessionEvent && SessionWatchers.TryGetValue(context, out var handler))
            {
                // The handler only queues the state; it never blocks the library's thread.
                handler(zh, state);
            }
        }
        catch
        {
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnString(int rc, byte* value, nint data)
    {
        try
        {
            Complete(data, new ZooKeeperResult(rc) { Value = rc == ZOk ? Utf8(value) : null });
        }
        catch
        {
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnVoid(int rc, nint data)
    {
        try
        {
            Complete(data, new ZooKeeperResult(rc));
        }
        catch
        {
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnStat(int rc, ZooKeeperStat* stat, nint data)
    {
        try
        {
            Complete(data, new ZooKeeperResult(rc) { Stat = rc == ZOk && stat is not null ? *stat : null });
        }
        catch
        {
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnData(int rc, byte* value, int length, ZooKeeperStat* stat, nint data)
    {
        try
        {
            byte[]? bytes = null;
            if (rc == ZOk)
            {
                bytes = value is null || length <= 0 ? [] : new ReadOnlySpan<byte>(value, length).ToArray();
            }

            Complete(data, new ZooKeeperResult(rc) { Data = bytes, Stat = rc == ZOk && stat is not null ? *stat : null });
        }
        catch
        {
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnStrings(int rc, StringVector* strings, nint data)
    {
        try
        {
            string[]? children = null;
            if (rc == ZOk)
            {
                children = strings is null ? [] : new string[strings->Count];
                for (var i = 0; i < children.Length; i++)
                {
                    children[i] = Utf8(strings->Data[i]) ?? "";
                }
            }

            Complete(data, new ZooKeeperResult(rc) { Children = children });
        }
        catch
        {
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLog(byte* message)
    {
        try
        {
            if (s_nativeLog is { } log && Utf8(message) is { } text)
            {
                ZooKeeperLog.NativeMessage(log, text.TrimEnd());
            }
        }
        catch
        {
        }
    }

    /// <summary><c>clientid_t</c>: the session id and its password.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ClientId
    {
        public long SessionId;
        public fixed byte Password[16];
    }

    /// <summary><c>struct String_vector</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct StringVector
    {
        public int Count;
        public byte** Data;
    }
}

/// <summary>A completion's outcome.</summary>
internal sealed record ZooKeeperResult(int Code)
{
    public string? Value { get; init; }

    public byte[]? Data { get; init; }

    public ZooKeeperStat? Stat { get; init; }

    public string[]? Children { get; init; }
}

/// <summary>A node event: created, deleted, data changed or children changed (one-shot, as in ZooKeeper).</summary>
internal sealed record ZooKeeperWatchEvent(int Type, string Path);

/// <summary><c>struct Stat</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ZooKeeperStat
{
    public long Czxid;
    public long Mzxid;
    public long Ctime;
    public long Mtime;
    public int Version;
    public int Cversion;
    public int Aversion;
    public long EphemeralOwner;
    public int DataLength;
    public int NumChildren;
    public long Pzxid;
}
