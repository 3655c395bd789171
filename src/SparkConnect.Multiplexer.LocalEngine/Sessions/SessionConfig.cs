using System.Globalization;

namespace SparkConnect.Multiplexer.LocalEngine.Sessions;

/// <summary>One session's Spark configuration: defaults plus what the client set, as Spark's RuntimeConfig.</summary>
internal sealed class SessionConfig
{
    /// <summary>Static (start-up only) keys: Spark refuses to change them at run time.</summary>
    private static readonly string[] StaticPrefixes = ["spark.sql.warehouse.dir", "spark.driver.", "spark.executor.", "spark.master", "spark.app.id"];

    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public SessionConfig(LocalEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _values["spark.sql.session.timeZone"] = options.DefaultTimeZone;
        _values["spark.sql.execution.arrow.maxRecordsPerBatch"] = "10000";
        _values["spark.sql.ansi.enabled"] = "true";
        _values["spark.sql.shuffle.partitions"] = "200";
        _values["spark.sql.timestampType"] = "TIMESTAMP_LTZ";
        _values["spark.sql.pyspark.jvmStacktrace.enabled"] = "false";
        _values["spark.sql.execution.pandas.convertToArrowArraySafely"] = "false";
        _values["spark.sql.execution.pythonUDF.arrow.enabled"] = "false";
        _values["spark.sql.session.localRelationCacheThreshold"] = "67108864";
        _values["spark.app.name"] = "SparkConnect.Multiplexer.LocalEngine";
        _values["spark.master"] = "local[*]";
        _values["spark.sql.warehouse.dir"] = "memory";
        foreach (var (key, value) in options.SessionDefaults)
        {
            _values[key] = value;
        }
    }

    public string TimeZoneId => Get("spark.sql.session.timeZone") ?? "UTC";

    public int MaxRecordsPerBatch
    {
        get
        {
            var text = Get("spark.sql.execution.arrow.maxRecordsPerBatch");
            return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : int.MaxValue;
        }
    }

    public string? Get(string key)
    {
        lock (_lock)
        {
            return _values.TryGetValue(key, out var value) ? value : null;
        }
    }

    public void Set(string key, string value)
    {
        if (!IsModifiable(key) && Get(key) != value)
        {
            throw new EngineException(ErrorClasses.CannotModifyConfig, $"Cannot modify the value of the static config: \"{key}\".", new() { ["key"] = $"\"{key}\"", ["docroot"] = "https://spark.apache.org/docs/latest" });
        }

        if (key == "spark.sql.session.timeZone" && !TimeZoneInfo.TryFindSystemTimeZoneById(value, out _))
        {
            throw new EngineException(ErrorClasses.Internal with { Name = "INVALID_CONF_VALUE.TIME_ZONE", SqlState = "22022", JavaClass = "org.apache.spark.SparkIllegalArgumentException" }, $"The value '{value}' in the config \"{key}\" is invalid. Cannot resolve the given timezone.", new() { ["confValue"] = value, ["confName"] = key });
        }

        lock (_lock)
        {
            _values[key] = value;
        }
    }

    public void Unset(string key)
    {
        lock (_lock)
        {
            _values.Remove(key);
        }
    }

    public IReadOnlyList<KeyValuePair<string, string>> GetAll(string? prefix)
    {
        lock (_lock)
        {
            return [.. _values.Where(p => prefix is null || p.Key.StartsWith(prefix, StringComparison.Ordinal)).OrderBy(p => p.Key, StringComparer.Ordinal)];
        }
    }

    /// <summary>Takes every value of another session's configuration (CloneSession).</summary>
    public void CopyFrom(SessionConfig other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var values = other.GetAll(null);
        lock (_lock)
        {
            _values.Clear();
            foreach (var (key, value) in values)
            {
                _values[key] = value;
            }
        }
    }

    public static bool IsModifiable(string key) => !StaticPrefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal));
}
