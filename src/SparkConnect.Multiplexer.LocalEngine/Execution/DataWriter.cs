using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Sessions;

namespace SparkConnect.Multiplexer.LocalEngine.Execution;

/// <summary>
/// DataFrame writers: <c>df.write…save(path)</c>/<c>parquet</c>/<c>csv</c>/<c>json</c> into the data directory
/// (a directory of part files, as Spark writes), <c>saveAsTable</c>, <c>insertInto</c> and <c>df.writeTo(…)</c>,
/// each with Spark's save modes.
/// </summary>
internal static class DataWriter
{
    private static readonly string[] Formats = ["parquet", "csv", "json"];

    public static async Task WriteAsync(EngineSession session, PlanTranslator translator, ISessionSql sql, DataFiles files, WriteOperation write, CancellationToken cancellationToken)
    {
        if (write.BucketBy is { BucketColumnNames.Count: > 0 })
        {
            throw EngineException.Unsupported("bucketBy (DuckDB tables and files have no buckets)");
        }

        var input = translator.ToSql(write.Input);
        switch (write.SaveTypeCase)
        {
            case WriteOperation.SaveTypeOneofCase.Path:
                await WritePathAsync(session, files, write, input, cancellationToken).ConfigureAwait(false);
                break;
            case WriteOperation.SaveTypeOneofCase.Table:
                await WriteTableAsync(session, sql, write, input, cancellationToken).ConfigureAwait(false);
                break;
            default:
                throw EngineException.Unsupported("a write without a path or a table (a data source that saves elsewhere)");
        }
    }

    private static async Task WritePathAsync(EngineSession session, DataFiles files, WriteOperation write, string input, CancellationToken cancellationToken)
    {
        var format = (write.HasSource && write.Source.Length > 0 ? write.Source : "parquet").ToLowerInvariant();
        if (!Formats.Contains(format))
        {
            throw EngineException.Unsupported($"writing the format '{format}' (parquet, csv and json are written)");
        }

        var target = files.Resolve(write.Path);
        if (target == files.Root)
        {
            throw EngineException.Unsupported("writing to the data directory itself; name a directory inside it");
        }

        var exists = Directory.Exists(target) || File.Exists(target);
        switch (write.Mode)
        {
            case WriteOperation.Types.SaveMode.Ignore when exists:
                return;
            case WriteOperation.Types.SaveMode.Unspecified or WriteOperation.Types.SaveMode.ErrorIfExists when exists:
                var shown = $"file:{files.Display(write.Path)}";
                throw new EngineException(ErrorClasses.PathAlreadyExists, $"Path {shown} already exists. Set mode as \"overwrite\" to overwrite the existing path.", new() { ["outputPath"] = shown });
            case WriteOperation.Types.SaveMode.Overwrite when exists:
                if (File.Exists(target))
                {
                    File.Delete(target);
                }
                else
                {
                    Directory.Delete(target, recursive: true);
                }

                break;
        }

        Directory.CreateDirectory(target);
        var options = new Dictionary<string, string>(write.Options, StringComparer.OrdinalIgnoreCase);
        var copy = format switch
        {
            "csv" => $"FORMAT csv, HEADER {(options.TryGetValue("header", out var header) && bool.TryParse(header, out var h) && h ? "true" : "false")}, DELIMITER {SqlText.QuoteString(options.TryGetValue("sep", out var sep) || options.TryGetValue("delimiter", out sep) ? sep : ",")}",
            "json" => "FORMAT json",
            _ => "FORMAT parquet",
        };
        var extension = format == "parquet" ? "snappy.parquet" : format;
        var id = Guid.NewGuid().ToString();
        string statement;
        if (write.PartitioningColumns.Count > 0)
        {
            // DuckDB writes Hive-style key=value directories, as Spark's partitionBy does.
            var partitions = string.Join(", ", write.PartitioningColumns.Select(SqlText.QuoteIdentifier));
            statement = $"COPY ({input}) TO {SqlText.QuoteString(target)} ({copy}, PARTITION_BY ({partitions}), OVERWRITE_OR_IGNORE true, FILENAME_PATTERN {SqlText.QuoteString($"part-{{i}}-{id}")}, FILE_EXTENSION {SqlText.QuoteString(extension)})";
        }
        else
        {
            statement = $"COPY ({input}) TO {SqlText.QuoteString(Path.Combine(target, $"part-00000-{id}-c000.{extension}"))} ({copy})";
        }

        await QueryRunner.ExecuteNonQueryAsync(session, statement, cancellationToken).ConfigureAwait(false);

        // Spark marks a finished write so readers (and people) can tell it from one that broke off.
        await File.WriteAllBytesAsync(Path.Combine(target, "_SUCCESS"), [], cancellationToken).ConfigureAwait(false);
    }

    private static async Task WriteTableAsync(EngineSession session, ISessionSql sql, WriteOperation write, string input, CancellationToken cancellationToken)
    {
        var tableName = write.Table.TableName;
        var table = CatalogNames.Table(tableName);
        var exists = TableExists(sql, tableName);
        var insertInto = write.Table.SaveMethod == WriteOperation.Types.SaveTable.Types.TableSaveMethod.InsertInto;
        string[] statements;
        if (insertInto)
        {
            // insertInto matches columns by position, as Spark does.
            statements = write.Mode == WriteOperation.Types.SaveMode.Overwrite
                ? [$"DELETE FROM {table}", $"INSERT INTO {table} {input}"]
                : [$"INSERT INTO {table} {input}"];
        }
        else
        {
            statements = write.Mode switch
            {
                WriteOperation.Types.SaveMode.Overwrite => [$"CREATE OR REPLACE TABLE {table} AS {input}"],
                WriteOperation.Types.SaveMode.Append => exists ? [$"INSERT INTO {table} BY NAME {input}"] : [$"CREATE TABLE {table} AS {input}"],
                WriteOperation.Types.SaveMode.Ignore => exists ? [] : [$"CREATE TABLE {table} AS {input}"],
                _ => exists ? throw AlreadyExists(tableName) : [$"CREATE TABLE {table} AS {input}"],
            };
        }

        await RunAtomicallyAsync(session, statements, cancellationToken).ConfigureAwait(false);
    }

    public static async Task WriteV2Async(EngineSession session, PlanTranslator translator, ISessionSql sql, WriteOperationV2 write, CancellationToken cancellationToken)
    {
        var input = translator.ToSql(write.Input);
        var table = CatalogNames.Table(write.TableName);
        var exists = TableExists(sql, write.TableName);
        string[] statements = write.Mode switch
        {
            WriteOperationV2.Types.Mode.Create => exists ? throw AlreadyExists(write.TableName) : [$"CREATE TABLE {table} AS {input}"],
            WriteOperationV2.Types.Mode.Replace => exists ? [$"CREATE OR REPLACE TABLE {table} AS {input}"] : throw ReplaceMissing(write.TableName),
            WriteOperationV2.Types.Mode.CreateOrReplace => [$"CREATE OR REPLACE TABLE {table} AS {input}"],
            WriteOperationV2.Types.Mode.Append => [$"INSERT INTO {table} BY NAME {input}"],
            WriteOperationV2.Types.Mode.Overwrite => [$"DELETE FROM {table} WHERE {(write.OverwriteCondition is null ? "true" : translator.ExpressionToSql(write.OverwriteCondition))}", $"INSERT INTO {table} BY NAME {input}"],

            // Without partitions, overwriting "the partitions written to" replaces every row.
            WriteOperationV2.Types.Mode.OverwritePartitions => [$"DELETE FROM {table}", $"INSERT INTO {table} BY NAME {input}"],
            _ => throw EngineException.Unsupported($"the writeTo mode '{write.Mode}'"),
        };
        await RunAtomicallyAsync(session, statements, cancellationToken).ConfigureAwait(false);
    }

    private static bool TableExists(ISessionSql sql, string tableName)
        => sql.Scalar($"SELECT count(*) FROM ({PlanTranslator.TableLookupSql(tableName, null)})") is long count && count > 0;

    private static EngineException AlreadyExists(string tableName)
        => new(ErrorClasses.TableAlreadyExists, $"Cannot create table or view `{tableName}` because it already exists. Choose a different name, drop or replace the existing object, or use mode \"append\" or \"overwrite\".", new() { ["relationName"] = $"`{tableName}`" });

    private static EngineException ReplaceMissing(string tableName)
        => new(ErrorClasses.CannotReplaceMissingTable, $"The table or view `{tableName}` cannot be found, so it cannot be replaced. Use createOrReplace() to create it.", new() { ["relationName"] = $"`{tableName}`" });

    /// <summary>Several statements in one transaction, so a failed insert never leaves the delete done.</summary>
    private static async Task RunAtomicallyAsync(EngineSession session, string[] statements, CancellationToken cancellationToken)
    {
        if (statements.Length <= 1)
        {
            foreach (var statement in statements)
            {
                await QueryRunner.ExecuteNonQueryAsync(session, statement, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        var body = string.Join(";\n", statements);
        try
        {
            await QueryRunner.ExecuteNonQueryAsync(session, $"BEGIN TRANSACTION;\n{body};\nCOMMIT", cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await TryRollbackAsync(session).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task TryRollbackAsync(EngineSession session)
    {
        try
        {
            await QueryRunner.ExecuteNonQueryAsync(session, "ROLLBACK", CancellationToken.None).ConfigureAwait(false);
        }
        catch (EngineException)
        {
            // No transaction was left open (the failure came before BEGIN took effect).
        }
    }
}
