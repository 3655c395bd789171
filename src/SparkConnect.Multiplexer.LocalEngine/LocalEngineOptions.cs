namespace SparkConnect.Multiplexer.LocalEngine;

/// <summary>
/// Settings of a local Spark Connect engine (a DuckDB database behind the Spark Connect protocol).
/// Bound from the configuration section <see cref="SectionName"/> when the engines run inside a gateway.
/// </summary>
public sealed class LocalEngineOptions
{
    /// <summary>The configuration section the gateway binds these options from.</summary>
    public const string SectionName = "SparkConnectGateway:LocalEngine";

    /// <summary>The default of <see cref="MaxBatchBytes"/>: 4 MiB, the size Spark aims its Arrow batches at.</summary>
    public const int DefaultMaxBatchBytes = 4 * 1024 * 1024;

    /// <summary>The default of <see cref="SparkVersion"/>.</summary>
    public const string DefaultSparkVersion = "4.0.0";

    /// <summary>The default of <see cref="MaxEngines"/>: 32.</summary>
    public const int DefaultMaxEngines = 32;

    /// <summary>The default of <see cref="MaxEnginesPerUser"/>: 4.</summary>
    public const int DefaultMaxEnginesPerUser = 4;

    /// <summary>
    /// Upper bound (in bytes, estimated from the row values) of one <c>arrow_batch</c> response. Default 4 MiB.
    /// A batch also ends at <c>spark.sql.execution.arrow.maxRecordsPerBatch</c> rows.
    /// </summary>
    public int MaxBatchBytes { get; set; } = DefaultMaxBatchBytes;

    /// <summary>
    /// Path of the DuckDB database file, or <see langword="null"/> (the default) for an in-memory database that
    /// lives as long as the engine. Tables are shared by all sessions of one engine; temporary views are not.
    /// </summary>
    public string? DatabasePath { get; set; }

    /// <summary>
    /// The only directory whose files users' SQL and DataFrame readers and writers may read and write
    /// (<c>read_csv</c>, <c>COPY ... TO</c>, <c>spark.read.parquet</c>, <c>df.write.csv</c>, <c>ATTACH</c>); reader and
    /// writer paths are relative to it. Every other file, the network and extension installs are refused, whatever
    /// the SQL: the engine runs with the powers of the process that hosts it. Embedded engines
    /// (<c>AddLocalEngines()</c>) each get their own subdirectory of it, named after their engine key. When
    /// <see langword="null"/> (the default), every engine makes a private folder under the system's temporary
    /// directory and deletes it when it stops.
    /// </summary>
    public string? DataDirectory { get; set; }

    /// <summary>
    /// The Spark version reported by AnalyzePlan <c>spark_version</c> (default "4.0.0"). Clients use it to pick
    /// protocol features, so it must look like a Spark version: major.minor.patch.
    /// </summary>
    public string SparkVersion { get; set; } = DefaultSparkVersion;

    /// <summary>The engine name appended to the version string (default "local-duckdb").</summary>
    public string EngineName { get; set; } = "local-duckdb";

    /// <summary>
    /// How many bytes of responses already sent are kept per reattachable operation so that a client whose
    /// stream broke can reattach (default 16 MiB). ReleaseExecute frees them earlier.
    /// </summary>
    public long RetryBufferBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>
    /// How long an ExecutePlan or ReattachExecute stream lasts before the engine ends it and expects the client
    /// to reattach (default 2 minutes, as Spark does). Only reattachable operations are cut.
    /// </summary>
    public TimeSpan MaxStreamDuration { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a reattachable operation nobody is attached to is kept (default 5 minutes).</summary>
    public TimeSpan AbandonedOperationTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The session time zone every new session starts with (default "UTC").</summary>
    public string DefaultTimeZone { get; set; } = "UTC";

    /// <summary>Extra Spark configuration defaults every new session starts with (key to value).</summary>
    public IDictionary<string, string> SessionDefaults { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Largest gRPC message accepted or sent (default 128 MiB, as Spark).</summary>
    public int MaxMessageSize { get; set; } = 128 * 1024 * 1024;

    /// <summary>
    /// Embedded engines only: how many run at once in this gateway, whoever started them (default 32). Each is a
    /// Kestrel server and a DuckDB database in the gateway's process; a start past the cap gets
    /// <c>RESOURCE_EXHAUSTED</c> naming this option, and idle engines stopping make room again.
    /// </summary>
    public int MaxEngines { get; set; } = DefaultMaxEngines;

    /// <summary>
    /// Embedded engines only: how many engines one user's sessions may have started and still run (default 4: the
    /// user's own engine plus a few subdomains or CONNECTION-level sessions at a time). Every engine key a client can
    /// choose (a new subdomain, a CONNECTION-level session) starts an engine, so without it one user could fill
    /// <see cref="MaxEngines"/> alone. A start past it gets <c>RESOURCE_EXHAUSTED</c> naming this option.
    /// </summary>
    public int MaxEnginesPerUser { get; set; } = DefaultMaxEnginesPerUser;

    /// <summary>
    /// Embedded engines only: how long an engine may have no session (in the gateway's session store) before it is
    /// stopped and forgotten, its in-memory tables with it (default 30 minutes, as launched engines).
    /// </summary>
    public TimeSpan EngineIdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Embedded engines only: how often engines are checked for idleness (default 30 seconds).</summary>
    public TimeSpan IdleCheckInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Checks the options and returns every problem found, each saying how to fix it (empty when valid).
    /// </summary>
    /// <returns>The problems, one message each.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (MaxBatchBytes < 1024)
        {
            errors.Add($"LocalEngine:MaxBatchBytes is {MaxBatchBytes}; set it to at least 1024 (default {DefaultMaxBatchBytes}).");
        }

        if (MaxMessageSize < MaxBatchBytes + (64 * 1024))
        {
            errors.Add($"LocalEngine:MaxMessageSize ({MaxMessageSize}) must exceed MaxBatchBytes ({MaxBatchBytes}) by at least 64 KiB; raise MaxMessageSize or lower MaxBatchBytes.");
        }

        if (string.IsNullOrWhiteSpace(SparkVersion) || !System.Text.RegularExpressions.Regex.IsMatch(SparkVersion, @"^\d+\.\d+\.\d+"))
        {
            errors.Add($"LocalEngine:SparkVersion '{SparkVersion}' is not a Spark version; use major.minor.patch such as \"{DefaultSparkVersion}\".");
        }

        if (string.IsNullOrWhiteSpace(EngineName))
        {
            errors.Add("LocalEngine:EngineName is empty; set a short name such as \"local-duckdb\".");
        }

        if (RetryBufferBytes < 0)
        {
            errors.Add($"LocalEngine:RetryBufferBytes is {RetryBufferBytes}; set 0 or more bytes (default 16 MiB).");
        }

        if (MaxStreamDuration <= TimeSpan.Zero)
        {
            errors.Add($"LocalEngine:MaxStreamDuration is {MaxStreamDuration}; set a positive duration such as 00:02:00.");
        }

        if (AbandonedOperationTimeout <= TimeSpan.Zero)
        {
            errors.Add($"LocalEngine:AbandonedOperationTimeout is {AbandonedOperationTimeout}; set a positive duration such as 00:05:00.");
        }

        if (string.IsNullOrWhiteSpace(DefaultTimeZone))
        {
            errors.Add("LocalEngine:DefaultTimeZone is empty; set an IANA time zone such as \"UTC\" or \"Europe/Berlin\".");
        }
        else if (!TimeZoneInfo.TryFindSystemTimeZoneById(DefaultTimeZone, out _))
        {
            errors.Add($"LocalEngine:DefaultTimeZone '{DefaultTimeZone}' is not a known time zone; use an IANA id such as \"UTC\".");
        }

        if (DatabasePath is not null && string.IsNullOrWhiteSpace(DatabasePath))
        {
            errors.Add("LocalEngine:DatabasePath is blank; remove it for an in-memory database or give a file path.");
        }

        if (MaxEngines < 1)
        {
            errors.Add($"LocalEngine:MaxEngines is {MaxEngines}; set at least 1 (default {DefaultMaxEngines}).");
        }

        if (MaxEnginesPerUser < 1)
        {
            errors.Add($"LocalEngine:MaxEnginesPerUser is {MaxEnginesPerUser}; set at least 1 (default {DefaultMaxEnginesPerUser}).");
        }
        else if (MaxEnginesPerUser > MaxEngines && MaxEngines >= 1)
        {
            errors.Add($"LocalEngine:MaxEnginesPerUser ({MaxEnginesPerUser}) exceeds MaxEngines ({MaxEngines}); lower it or raise MaxEngines.");
        }

        if (EngineIdleTimeout <= TimeSpan.Zero)
        {
            errors.Add($"LocalEngine:EngineIdleTimeout is {EngineIdleTimeout}; set a positive duration such as 00:30:00.");
        }

        if (IdleCheckInterval <= TimeSpan.Zero)
        {
            errors.Add($"LocalEngine:IdleCheckInterval is {IdleCheckInterval}; set a positive duration such as 00:00:30.");
        }

        if (DataDirectory is not null && string.IsNullOrWhiteSpace(DataDirectory))
        {
            errors.Add("LocalEngine:DataDirectory is blank; remove it (each engine then uses a temporary folder of its own) or give a directory path.");
        }

        return errors;
    }
}
