using System.Collections.Frozen;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>Names of <c>spark.connect.SparkConnectService</c> and the methods the gateway treats specially.</summary>
internal static class SparkConnectMethods
{
    public const string ServiceName = "spark.connect.SparkConnectService";
    public const string ServicePath = "/" + ServiceName + "/";
    public const string CloneSession = "CloneSession";
    public const string ReleaseSession = "ReleaseSession";

    /// <summary>Methods Spark has released (DESIGN.md §3); any other name is forwarded too, but tagged "Other" in metrics.</summary>
    private static readonly FrozenSet<string> Known = FrozenSet.ToFrozenSet(
    [
        "ExecutePlan", "AnalyzePlan", "Config", "AddArtifacts", "ArtifactStatus", "Interrupt", "ReattachExecute",
        "ReleaseExecute", ReleaseSession, "FetchErrorDetails", CloneSession, "GetStatus",
    ], StringComparer.Ordinal);

    /// <summary>
    /// Whether a request may carry plans whose SQL could change Spark confs: ExecutePlan, AnalyzePlan, and any method
    /// Spark adds later (its shape is unknown, so it is read too). The others carry ids, confs (checked on their own)
    /// or artifact bytes.
    /// </summary>
    public static bool MayCarryPlans(string method) => method is "ExecutePlan" or "AnalyzePlan" || !Known.Contains(method);

    /// <summary>A bounded-cardinality name for metrics and logs: unknown method names come from clients.</summary>
    public static string ForTelemetry(string method) => Known.TryGetValue(method, out var known) ? known : "Other";
}
