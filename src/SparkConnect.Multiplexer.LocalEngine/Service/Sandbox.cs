using DuckDB.NET.Data;

namespace SparkConnect.Multiplexer.LocalEngine.Service;

/// <summary>
/// Takes from users' SQL the powers of the process the engine runs in: DuckDB's external access is switched off
/// (no files outside the engine's data directory, no network, no INSTALL and no LOAD of extension files, no ATTACH
/// of other files, no secrets persisted), extensions are never installed or loaded on their own, and the
/// configuration is locked so that no SET or RESET can reopen any of it. Only the session time zone stays
/// settable: the engine follows <c>spark.sql.session.timeZone</c> with it.
/// </summary>
/// <remarks>
/// Verified against DuckDB 1.5: <c>enable_external_access=false</c> cannot be undone while the database runs;
/// <c>allowed_directories</c> keeps working with it; <c>lock_configuration</c> refuses every SET except those in
/// <c>allowed_configs</c>; a statically linked extension (json, parquet, icu) still loads, nothing else does.
/// </remarks>
internal static class Sandbox
{
    /// <summary>
    /// The DuckDB settings users' SQL may still change once the configuration is locked: the time zone, and the
    /// per-connection progress settings each session switches on (DuckDB has no global form of them) so the engine
    /// can report progress of long statements.
    /// </summary>
    public static readonly string[] SettableConfigs = ["TimeZone", "enable_progress_bar", "enable_progress_bar_print"];

    /// <summary>Run on every session's connection: progress is tracked (for ExecutionProgress), never printed.</summary>
    public static readonly string[] SessionSettings = ["SET enable_progress_bar = true", "SET enable_progress_bar_print = false"];

    public static void Apply(DuckDBConnection root, string dataDirectory)
    {
        if (IsApplied(root))
        {
            // Another engine in this process opened the same database file first: DuckDB.NET shares the instance,
            // already locked down (with that engine's data directory).
            return;
        }

        var statements = new List<string>();
        Directory.CreateDirectory(dataDirectory);
        var allowed = Path.EndsInDirectorySeparator(dataDirectory) ? dataDirectory : dataDirectory + Path.DirectorySeparatorChar;
        statements.Add($"SET allowed_directories = [{SqlText.QuoteString(allowed)}]");

        // Spilling to disk stays possible, inside the data directory.
        statements.Add($"SET temp_directory = {SqlText.QuoteString(Path.Combine(dataDirectory, ".tmp"))}");

        statements.Add("SET autoinstall_known_extensions = false");
        statements.Add("SET autoload_known_extensions = false");
        statements.Add("SET allow_community_extensions = false");
        statements.Add("SET enable_external_access = false");
        statements.Add($"SET allowed_configs = [{string.Join(", ", SettableConfigs.Select(SqlText.QuoteString))}]");
        statements.Add("SET lock_configuration = true");
        foreach (var statement in statements)
        {
            using var command = root.CreateCommand();
            command.CommandText = statement;
            command.ExecuteNonQuery();
        }
    }

    private static bool IsApplied(DuckDBConnection root)
    {
        using var command = root.CreateCommand();
        command.CommandText = "SELECT current_setting('lock_configuration') AND NOT current_setting('enable_external_access')";
        return command.ExecuteScalar() is true;
    }
}
