using SparkConnect.Multiplexer.LocalEngine.Types;

namespace SparkConnect.Multiplexer.LocalEngine.Execution;

/// <summary>
/// What the plan translator may ask the session's database while it translates: some Spark relations
/// (withColumns, drop, na.fill, describe, catalog calls…) depend on the columns of their input.
/// </summary>
internal interface ISessionSql
{
    /// <summary>The result columns of a query.</summary>
    IReadOnlyList<EngineField> Describe(string sql);

    /// <summary>The first value of the first row of a query, or <see langword="null"/>.</summary>
    object? Scalar(string sql);
}
