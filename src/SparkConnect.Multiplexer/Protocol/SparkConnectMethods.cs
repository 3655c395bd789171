using System.Collections.Frozen;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>The shape of a gRPC method, as the gateway needs it to frame requests.</summary>
internal enum MethodKind
{
    /// <summary>One request message, one response message.</summary>
    Unary,

    /// <summary>One request message, a stream of responses.</summary>
    ServerStreaming,

    /// <summary>A stream of request messages, one response.</summary>
    ClientStreaming,

    /// <summary>A method Spark may add later: any number of messages either way, each request message checked.</summary>
    Unknown,
}

/// <summary>
/// What one <c>spark.connect.SparkConnectService</c> method is, decided once per call from the raw request path.
/// Every rule of the gateway (authorization, limits, session binding, framing, telemetry, the engine path) reads
/// this one decision and never the client's text, so no two rules can disagree about what a call is.
/// </summary>
/// <param name="Name">The exact method name; the engine path is built from it.</param>
/// <param name="Kind">Unary, server streaming, client streaming, or unknown.</param>
/// <param name="IsKnown">Whether Spark has released the method (DESIGN.md §3); unknown ones are forwarded when allowed.</param>
/// <param name="MayCreateSession">
/// Whether Spark's server creates a session for it (<c>getOrCreateIsolatedSession</c>); only these may make the
/// engine locator launch an engine for a session the gateway does not know.
/// </param>
/// <param name="MayCarryPlans">Whether its request may hold plans whose SQL could change Spark confs.</param>
/// <param name="ChangesConfig">Whether its request sets or unsets Spark confs (the Config RPC).</param>
/// <param name="InspectsResponse">Whether its response is read (Config: secrets are removed) rather than relayed as bytes.</param>
/// <param name="StartsExecution">Whether it runs (or resumes) a query: counted against the execution limit.</param>
/// <param name="ClonesSession">Whether it creates a second session (CloneSession's <c>new_session_id</c>).</param>
/// <param name="ReleasesSession">Whether success ends the session's binding (ReleaseSession).</param>
internal sealed record SparkConnectMethod(
    string Name,
    MethodKind Kind,
    bool IsKnown,
    bool MayCreateSession,
    bool MayCarryPlans,
    bool ChangesConfig,
    bool InspectsResponse,
    bool StartsExecution,
    bool ClonesSession,
    bool ReleasesSession)
{
    /// <summary>The name for metrics, logs and spans: unknown names come from clients, so they share one value.</summary>
    public string TelemetryName => IsKnown ? Name : SparkConnectMethods.OtherMethod;

    /// <summary>Whether the request is exactly one message (unary and server-streaming methods).</summary>
    public bool HasSingleRequest => Kind is MethodKind.Unary or MethodKind.ServerStreaming;
}

/// <summary>The service's names and the table of its methods.</summary>
internal static class SparkConnectMethods
{
    public const string ServiceName = "spark.connect.SparkConnectService";
    public const string ServicePath = "/" + ServiceName + "/";

    /// <summary>The telemetry name of every method Spark has not released (OpenTelemetry's convention for unknown methods).</summary>
    public const string OtherMethod = "_OTHER";

    /// <summary>The longest unknown method name forwarded; Spark's own are under 20 characters.</summary>
    public const int MaxMethodNameLength = 64;

    public static readonly SparkConnectMethod ExecutePlan = Known("ExecutePlan", MethodKind.ServerStreaming, createsSession: true, carriesPlans: true, startsExecution: true);
    public static readonly SparkConnectMethod AnalyzePlan = Known("AnalyzePlan", MethodKind.Unary, createsSession: true, carriesPlans: true);
    public static readonly SparkConnectMethod Config = Known("Config", MethodKind.Unary, createsSession: true) with { ChangesConfig = true, InspectsResponse = true };
    public static readonly SparkConnectMethod AddArtifacts = Known("AddArtifacts", MethodKind.ClientStreaming, createsSession: true);
    // Spark's ArtifactStatus, Interrupt and FetchErrorDetails handlers call getOrCreateIsolatedSession: they create
    // a session like ExecutePlan. ReattachExecute, ReleaseExecute, GetStatus and CloneSession (its source) call
    // getIsolatedSession and fail with INVALID_HANDLE.SESSION_NOT_FOUND; ReleaseSession calls
    // getIsolatedSessionIfPresent and succeeds for an unknown session.
    public static readonly SparkConnectMethod ArtifactStatus = Known("ArtifactStatus", MethodKind.Unary, createsSession: true);
    public static readonly SparkConnectMethod Interrupt = Known("Interrupt", MethodKind.Unary, createsSession: true);
    public static readonly SparkConnectMethod ReattachExecute = Known("ReattachExecute", MethodKind.ServerStreaming, startsExecution: true);
    public static readonly SparkConnectMethod ReleaseExecute = Known("ReleaseExecute", MethodKind.Unary);
    public static readonly SparkConnectMethod ReleaseSession = Known("ReleaseSession", MethodKind.Unary) with { ReleasesSession = true };
    public static readonly SparkConnectMethod FetchErrorDetails = Known("FetchErrorDetails", MethodKind.Unary, createsSession: true);
    public static readonly SparkConnectMethod CloneSession = Known("CloneSession", MethodKind.Unary) with { ClonesSession = true };
    public static readonly SparkConnectMethod GetStatus = Known("GetStatus", MethodKind.Unary);

    /// <summary>Methods Spark has released (DESIGN.md §3), by exact (case-sensitive) name.</summary>
    public static readonly FrozenDictionary<string, SparkConnectMethod> All = new[]
    {
        ExecutePlan, AnalyzePlan, Config, AddArtifacts, ArtifactStatus, Interrupt, ReattachExecute, ReleaseExecute,
        ReleaseSession, FetchErrorDetails, CloneSession, GetStatus,
    }.ToFrozenDictionary(m => m.Name, StringComparer.Ordinal);

    /// <summary>
    /// Decides a call's method from the raw request target (the HTTP/2 <c>:path</c> as the client sent it, before any
    /// decoding or normalisation). A known method matches exactly; another name is a method Spark may add later only
    /// when it is a plain gRPC method name (ASCII letters, digits, <c>_</c>). Anything else — percent-encoding,
    /// <c>?</c>, <c>#</c>, <c>/</c>, dot segments, control characters, other case of a known name — is no method at all.
    /// </summary>
    /// <returns>The method, or <see langword="null"/> when the path names no method the gateway may forward.</returns>
    public static SparkConnectMethod? Resolve(string? rawTarget)
    {
        if (rawTarget is null || !rawTarget.StartsWith(ServicePath, StringComparison.Ordinal))
        {
            return null;
        }

        var name = rawTarget.AsSpan(ServicePath.Length);
        if (All.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name, out var known))
        {
            return known;
        }

        if (name.IsEmpty || name.Length > MaxMethodNameLength || !char.IsAsciiLetter(name[0]))
        {
            return null;
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
            {
                return null;
            }
        }

        // A different spelling of a known name (config, CONFIG) would reach the same handler at an engine that
        // matches names loosely: it is not a new method.
        foreach (var knownName in All.Keys)
        {
            if (name.Equals(knownName, StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }
        }

        return new SparkConnectMethod(name.ToString(), MethodKind.Unknown, IsKnown: false, MayCreateSession: true, MayCarryPlans: true,
            ChangesConfig: false, InspectsResponse: false, StartsExecution: false, ClonesSession: false, ReleasesSession: false);
    }

    private static SparkConnectMethod Known(string name, MethodKind kind, bool createsSession = false, bool carriesPlans = false, bool startsExecution = false)
        => new(name, kind, IsKnown: true, MayCreateSession: createsSession, MayCarryPlans: carriesPlans, ChangesConfig: false,
            InspectsResponse: false, StartsExecution: startsExecution, ClonesSession: false, ReleasesSession: false);
}
