using System.Data.Common;
using DuckDB.NET.Data;
using Google.Protobuf;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Formatting;
using SparkConnect.Multiplexer.LocalEngine.Sessions;
using SparkConnect.Multiplexer.LocalEngine.Types;

namespace SparkConnect.Multiplexer.LocalEngine.Execution;

/// <summary>
/// Runs SQL on a session's DuckDB connection. Results stream: rows are read in DuckDB's streaming mode and cut
/// into Arrow batches bounded by bytes and rows, each handed on before the next is read.
/// </summary>
internal sealed class QueryRunner
{
    private readonly LocalEngineOptions _options;

    public QueryRunner(LocalEngineOptions options) => _options = options;

    /// <summary>The result columns of a query (DuckDB's DESCRIBE), with the casts unusual DuckDB types need.</summary>
    public static async Task<IReadOnlyList<EngineField>> DescribeAsync(EngineSession session, string sql, CancellationToken cancellationToken)
        => await Task.Run(() => Describe(session, sql, cancellationToken), cancellationToken).ConfigureAwait(false);

    /// <summary><see cref="DescribeAsync"/> on the calling thread; the caller holds the connection lock.</summary>
    private static List<EngineField> Describe(EngineSession session, string sql, CancellationToken cancellationToken)
    {
        ApplyTimeZone(session);
        var fields = new List<EngineField>();
        using var command = session.Connection.CreateCommand();
        command.CommandText = "DESCRIBE " + sql;
        using var registration = cancellationToken.Register(command.Cancel);
        using var reader = Guard(() => command.ExecuteReader(), cancellationToken);
        while (reader.Read())
        {
            fields.Add(new EngineField(reader.GetString(0), DuckDbTypeParser.Parse(reader.GetString(1)), reader.GetString(2) != "NO"));
        }

        return fields;
    }

    /// <summary>The session's database as the plan translator sees it: each question takes the connection lock.</summary>
    public static ISessionSql SessionSql(EngineSession session, CancellationToken cancellationToken) => new TranslationSql(session, cancellationToken);

    private sealed class TranslationSql(EngineSession session, CancellationToken cancellationToken) : ISessionSql
    {
        public IReadOnlyList<EngineField> Describe(string sql)
        {
            session.ConnectionLock.Wait(cancellationToken);
            try
            {
                return QueryRunner.Describe(session, sql, cancellationToken);
            }
            finally
            {
                session.ConnectionLock.Release();
            }
        }

        public object? Scalar(string sql)
        {
            session.ConnectionLock.Wait(cancellationToken);
            try
            {
                using var command = session.Connection.CreateCommand();
                command.CommandText = sql;
                using var registration = cancellationToken.Register(command.Cancel);
                var value = Guard(() => command.ExecuteScalar(), cancellationToken);
                return value is DBNull ? null : value;
            }
            finally
            {
                session.ConnectionLock.Release();
            }
        }
    }

    /// <summary>
    /// Keeps DuckDB's TimeZone setting equal to spark.sql.session.timeZone, so timestamp literals and casts to
    /// TIMESTAMPTZ read in the session's zone as in Spark. Caller holds the connection lock.
    /// </summary>
    private static void ApplyTimeZone(EngineSession session)
    {
        var zone = session.Config.TimeZoneId;
        if (session.AppliedTimeZone == zone)
        {
            return;
        }

        using var command = session.Connection.CreateCommand();
        command.CommandText = $"SET TimeZone = {SqlText.QuoteString(zone)}";
        try
        {
            command.ExecuteNonQuery();
        }
        catch (DuckDBException)
        {
            // A zone DuckDB does not know still formats correctly on our side; only DuckDB-side parsing stays in UTC.
        }

        session.AppliedTimeZone = zone;
    }

    /// <summary>Schema of a plan; holds the session's connection lock.</summary>
    public static async Task<IReadOnlyList<EngineField>> SchemaAsync(EngineSession session, QueryPlan plan, CancellationToken cancellationToken)
    {
        if (plan.Show is not null)
        {
            return [new EngineField("show_string", EngineType.String, false)];
        }

        if (plan.NoColumns)
        {
            return [];
        }

        await session.ConnectionLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await DescribeAsync(session, plan.Sql, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            session.ConnectionLock.Release();
        }
    }

    /// <summary>Runs a statement for its effect (DDL/DML).</summary>
    public static async Task ExecuteNonQueryAsync(EngineSession session, string sql, CancellationToken cancellationToken)
    {
        await session.ConnectionLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ApplyTimeZone(session);
            await using var command = session.Connection.CreateCommand();
            command.CommandText = sql;
            await using var registration = cancellationToken.Register(command.Cancel);
            await Task.Run(() => Guard(() => command.ExecuteNonQuery(), cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            session.ConnectionLock.Release();
        }
    }

    /// <summary>Runs a query plan and emits schema then Arrow batches through <paramref name="emit"/>.</summary>
    public async Task RunAsync(EngineSession session, QueryPlan plan, Func<ExecutePlanResponse, CancellationToken, ValueTask> emit, CancellationToken cancellationToken)
    {
        foreach (var command in plan.Commands.Concat(plan.ShowInput?.Commands ?? []))
        {
            await ExecuteNonQueryAsync(session, command, cancellationToken).ConfigureAwait(false);
        }

        var timeZone = session.Config.TimeZoneId;
        if (plan.Show is not null)
        {
            var text = await ShowAsync(session, plan, cancellationToken).ConfigureAwait(false);
            IReadOnlyList<EngineField> showFields = [new EngineField("show_string", EngineType.String, false)];
            await emit(new ExecutePlanResponse { Schema = EngineType.StructProto(showFields) }, cancellationToken).ConfigureAwait(false);
            await emit(BatchResponse(showFields, [[text]], 1, timeZone), cancellationToken).ConfigureAwait(false);
            return;
        }

        if (plan.NoColumns)
        {
            await emit(new ExecutePlanResponse { Schema = EngineType.StructProto([]) }, cancellationToken).ConfigureAwait(false);
            await emit(BatchResponse([], [], 0, timeZone), cancellationToken).ConfigureAwait(false);
            return;
        }

        await session.ConnectionLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var fields = await DescribeAsync(session, plan.Sql, cancellationToken).ConfigureAwait(false);
            await emit(new ExecutePlanResponse { Schema = EngineType.StructProto(fields) }, cancellationToken).ConfigureAwait(false);
            var maxRows = session.Config.MaxRecordsPerBatch;
            var sent = false;
            await foreach (var (columns, rows) in ReadBatchesAsync(session, plan.Sql, fields, maxRows, _options.MaxBatchBytes, cancellationToken).ConfigureAwait(false))
            {
                await emit(BatchResponse(fields, columns, rows, timeZone), cancellationToken).ConfigureAwait(false);
                sent = true;
            }

            if (!sent)
            {
                // Spark sends one empty batch so the client still learns the Arrow schema.
                await emit(BatchResponse(fields, [.. fields.Select(_ => new List<object?>())], 0, timeZone), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            session.ConnectionLock.Release();
        }
    }

    /// <summary>Formats the first rows of the show_string input as Spark's Dataset.show() does.</summary>
    public static async Task<string> ShowAsync(EngineSession session, QueryPlan plan, CancellationToken cancellationToken)
    {
        var show = plan.Show!;
        var input = plan.ShowInput!;
        var numRows = Math.Max(0, show.NumRows);
        if (input.NoColumns)
        {
            return ShowStringFormatter.Format([], [], false, numRows, show.Truncate, show.Vertical);
        }

        await session.ConnectionLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var fields = await DescribeAsync(session, input.Sql, cancellationToken).ConfigureAwait(false);
            var zone = session.TimeZone;
            var rows = new List<IReadOnlyList<string>>();
            var sql = $"SELECT * FROM ({input.Sql}) LIMIT {numRows + 1}";
            await foreach (var (columns, count) in ReadBatchesAsync(session, sql, fields, int.MaxValue, int.MaxValue, cancellationToken).ConfigureAwait(false))
            {
                for (var r = 0; r < count; r++)
                {
                    rows.Add([.. fields.Select((f, c) => ValueFormatter.Format(columns[c][r], f.Type, zone))]);
                }
            }

            var hasMore = rows.Count > numRows;
            return ShowStringFormatter.Format([.. fields.Select(f => f.Name)], hasMore ? rows[..numRows] : rows, hasMore, numRows, show.Truncate, show.Vertical);
        }
        finally
        {
            session.ConnectionLock.Release();
        }
    }

    /// <summary>Explain text of a plan (DuckDB's physical plan under Spark's heading).</summary>
    public static async Task<string> ExplainAsync(EngineSession session, QueryPlan plan, CancellationToken cancellationToken)
    {
        var sql = plan.Show?.Input is not null ? plan.ShowInput!.Sql : plan.Sql;
        await session.ConnectionLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = session.Connection.CreateCommand();
            command.CommandText = "EXPLAIN " + sql;
            await using var reader = await ExecuteReaderAsync(command, cancellationToken).ConfigureAwait(false);
            var text = new System.Text.StringBuilder("== Physical Plan ==\n");
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                text.Append(reader.GetValue(reader.FieldCount - 1)).Append('\n');
            }

            return text.ToString();
        }
        finally
        {
            session.ConnectionLock.Release();
        }
    }

    private static async IAsyncEnumerable<(List<object?>[] Columns, int Rows)> ReadBatchesAsync(
        EngineSession session,
        string sql,
        IReadOnlyList<EngineField> fields,
        int maxRows,
        int maxBytes,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Exotic DuckDB types (unsigned, HUGEINT, ENUM, ...) are cast in SQL to the Spark shape they map to.
        if (fields.Any(f => f.Type.NeedsCast))
        {
            var columns = fields.Select((f, i) => f.Type.DuckDbCast is { } cast
                ? $"CAST(#{i + 1} AS {cast}) AS {SqlText.QuoteIdentifier(f.Name)}"
                : $"#{i + 1}");
            sql = $"SELECT {string.Join(", ", columns)} FROM ({sql})";
        }

        await using var command = session.Connection.CreateCommand();
        command.CommandText = sql;
        command.UseStreamingMode = true;
        await using var registration = cancellationToken.Register(command.Cancel);
        await using var reader = await ExecuteReaderAsync(command, cancellationToken).ConfigureAwait(false);
        var readers = fields.Select((f, i) => DuckDbValues.ColumnReader(i, f.Type)).ToArray();
        while (true)
        {
            var batch = fields.Select(_ => new List<object?>()).ToArray();
            var (rows, more) = await Task.Run(() => Guard(() => Fill(reader, readers, batch, fields, maxRows, maxBytes), cancellationToken), cancellationToken).ConfigureAwait(false);
            if (rows > 0)
            {
                yield return (batch, rows);
            }

            if (!more)
            {
                yield break;
            }
        }
    }

    private static (int Rows, bool More) Fill(DbDataReader reader, Func<DbDataReader, object?>[] readers, List<object?>[] batch, IReadOnlyList<EngineField> fields, int maxRows, int maxBytes)
    {
        var rows = 0;
        long bytes = 0;
        while (rows < maxRows && bytes < maxBytes)
        {
            if (!reader.Read())
            {
                return (rows, false);
            }

            for (var c = 0; c < readers.Length; c++)
            {
                var value = readers[c](reader);
                batch[c].Add(value);
                bytes += EstimateSize(value, fields[c].Type);
            }

            rows++;
        }

        return (rows, true);
    }

    private static long EstimateSize(object? value, EngineType type) => value switch
    {
        null => 1,
        string s => s.Length + 4,
        byte[] b => b.Length + 4,
        List<object?> list => 4 + list.Sum(v => EstimateSize(v, type.Element ?? EngineType.String)),
        object?[] row => row.Select((v, i) => EstimateSize(v, i < type.Fields.Count ? type.Fields[i].Type : EngineType.String)).Sum(),
        List<KeyValuePair<object, object?>> pairs => 4 + pairs.Sum(p => EstimateSize(p.Key, type.Key ?? EngineType.String) + EstimateSize(p.Value, type.Value ?? EngineType.String)),
        decimal => 16,
        _ => 8,
    };

    private static ExecutePlanResponse BatchResponse(IReadOnlyList<EngineField> fields, IReadOnlyList<List<object?>> columns, int rows, string timeZone)
    {
        using var batch = ArrowConversion.BuildBatch(fields, columns, rows, timeZone);
        var data = ArrowConversion.ToIpcStream(batch.Schema, batch);
        return new ExecutePlanResponse { ArrowBatch = new ExecutePlanResponse.Types.ArrowBatch { RowCount = rows, Data = ByteString.CopyFrom(data) } };
    }

    private static async Task<DbDataReader> ExecuteReaderAsync(DuckDBCommand command, CancellationToken cancellationToken)
        => await Task.Run(() => Guard(() => (DbDataReader)command.ExecuteReader(), cancellationToken), cancellationToken).ConfigureAwait(false);

    /// <summary>Turns DuckDB failures into Spark error classes, and a cancelled DuckDB query into OPERATION_CANCELED.</summary>
    private static T Guard<T>(Func<T> action, CancellationToken cancellationToken)
    {
        try
        {
            return action();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (DuckDBException error) when (cancellationToken.IsCancellationRequested || error.Message.Contains("INTERRUPT", StringComparison.OrdinalIgnoreCase))
        {
            throw new OperationCanceledException("The DuckDB query was interrupted.", error, cancellationToken);
        }
        catch (DuckDBException error)
        {
            throw EngineException.FromDuckDb(error);
        }
    }
}
