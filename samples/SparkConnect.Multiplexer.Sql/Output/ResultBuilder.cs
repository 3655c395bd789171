using Apache.Arrow.Ipc;
using SparkConnect.Multiplexer.Sql.Execution;

namespace SparkConnect.Multiplexer.Sql.Output;

/// <summary>
/// Collects a result from its Arrow IPC batches as they arrive: every row is counted, only the first rows to print
/// are kept (as text), so a large result streams through without being held.
/// </summary>
internal sealed class ResultBuilder(int maxRows)
{
    private readonly List<string[]> _rows = [];
    private IReadOnlyList<string> _columns = [];

    public long RowCount { get; private set; }

    /// <summary>The column names from the result's schema response, for a result with no rows.</summary>
    public void SetColumns(IEnumerable<string> names)
    {
        if (_columns.Count == 0)
        {
            _columns = [.. names];
        }
    }

    public void Add(ReadOnlyMemory<byte> ipc)
    {
        using var reader = new ArrowStreamReader(ipc);
        while (reader.ReadNextRecordBatch() is { } batch)
        {
            using (batch)
            {
                if (_columns.Count == 0)
                {
                    _columns = [.. batch.Schema.FieldsList.Select(f => f.Name)];
                }

                for (var row = 0; row < batch.Length && _rows.Count < maxRows; row++)
                {
                    var cells = new string[batch.ColumnCount];
                    for (var column = 0; column < cells.Length; column++)
                    {
                        cells[column] = ArrowValues.Format(batch.Column(column), row);
                    }

                    _rows.Add(cells);
                }

                RowCount += batch.Length;
            }
        }

        if (_columns.Count == 0 && reader.Schema is { } schema)
        {
            _columns = [.. schema.FieldsList.Select(f => f.Name)];
        }
    }

    public QueryResult Build() => new(_columns, _rows, RowCount);
}
