namespace SparkConnect.Multiplexer.LocalEngine.Execution;

/// <summary>
/// Spark's catalog names over DuckDB's: Spark's one catalog is <c>spark_catalog</c> and its first database is
/// <c>default</c>; DuckDB's first schema is <c>main</c>. Clients see Spark's names, DuckDB gets its own.
/// </summary>
internal static class CatalogNames
{
    public const string SparkCatalog = "spark_catalog";
    public const string SparkDefaultDatabase = "default";
    public const string DuckDbDefaultSchema = "main";

    /// <summary>A Spark database name as the DuckDB schema it stands for.</summary>
    public static string ToSchema(string database)
        => string.Equals(database, SparkDefaultDatabase, StringComparison.OrdinalIgnoreCase) ? DuckDbDefaultSchema : database;

    /// <summary>A DuckDB schema name as the Spark database clients see.</summary>
    public static string ToDatabase(string schema)
        => string.Equals(schema, DuckDbDefaultSchema, StringComparison.Ordinal) ? SparkDefaultDatabase : schema;

    /// <summary>SQL for the Spark database name of a DuckDB schema column.</summary>
    public static string DatabaseSql(string schemaColumn)
        => $"CASE WHEN {schemaColumn} = '{DuckDbDefaultSchema}' THEN '{SparkDefaultDatabase}' ELSE {schemaColumn} END";

    /// <summary>
    /// A Spark table identifier (<c>t</c>, <c>db.t</c>, <c>spark_catalog.db.t</c>, backticks allowed) as a quoted
    /// DuckDB name: the catalog part goes, <c>default</c> becomes <c>main</c>.
    /// </summary>
    public static string Table(string sparkIdentifier)
    {
        var parts = SqlText.SplitIdentifier(sparkIdentifier).ToList();
        if (parts.Count == 3 && string.Equals(parts[0], SparkCatalog, StringComparison.OrdinalIgnoreCase))
        {
            parts.RemoveAt(0);
        }

        if (parts.Count == 2)
        {
            parts[0] = ToSchema(parts[0]);
        }

        return string.Join('.', parts.Select(SqlText.QuoteIdentifier));
    }

    /// <summary>
    /// Spark's catalog name pattern (<c>*</c> any text, <c>|</c> alternatives, case-insensitive) as a regular
    /// expression for DuckDB's <c>regexp_full_match</c>.
    /// </summary>
    public static string PatternRegex(string pattern)
    {
        var alternatives = pattern.Trim().Split('|').Select(p => System.Text.RegularExpressions.Regex.Escape(p.Trim()).Replace("\\*", ".*", StringComparison.Ordinal));
        return "(?i)(" + string.Join('|', alternatives) + ")";
    }
}
