using DuckDB.NET.Data;
using DuckDB.NET.Native;
using Spark.Connect;

namespace SparkConnect.Multiplexer.LocalEngine.Execution;

/// <summary>
/// Reports how far a long statement has come, as Spark's <c>execution_progress</c> responses (clients draw a
/// progress bar from them): nothing for a statement that ends within <see cref="FirstReport"/>, then one report
/// per <see cref="Interval"/> while it runs, and a last one marked done when it ends well. DuckDB's own progress
/// (percent of rows scanned) is one stage of 100 tasks; where DuckDB cannot tell (a table function), none
/// completes until the end.
/// </summary>
internal sealed class ProgressReporter : IAsyncDisposable
{
    public static readonly TimeSpan FirstReport = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private const int Tasks = 100;

    private readonly DuckDBConnection _connection;
    private readonly Func<ExecutePlanResponse, bool> _tryEmit;
    private readonly CancellationTokenSource _stop;
    private readonly Task _loop;
    private volatile bool _reported;

    /// <param name="connection">The session's connection (DuckDB answers progress questions while it runs a query).</param>
    /// <param name="tryEmit">Adds a response unless the client is behind; progress is never worth waiting for.</param>
    /// <param name="cancellationToken">The operation's token.</param>
    public ProgressReporter(DuckDBConnection connection, Func<ExecutePlanResponse, bool> tryEmit, CancellationToken cancellationToken)
    {
        _connection = connection;
        _tryEmit = tryEmit;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _loop = RunAsync(_stop.Token);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(FirstReport, cancellationToken).ConfigureAwait(false);
            while (!cancellationToken.IsCancellationRequested)
            {
                DuckDBQueryProgress progress;
                try
                {
                    progress = _connection.GetQueryProgress();
                }
                catch (Exception error) when (error is ObjectDisposedException or InvalidOperationException or DuckDBException)
                {
                    // The session closed under the statement: nothing left to report on.
                    return;
                }

                var completed = progress.Percentage < 0 ? 0 : (long)Math.Clamp(progress.Percentage, 0, Tasks - 1);
                _reported |= _tryEmit(Report(completed, done: false));
                await Task.Delay(Interval, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The statement ended (or the operation was interrupted).
        }
    }

    /// <summary>Stops reporting; after any report, sends the last one, done.</summary>
    public async Task CompleteAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_reported)
        {
            _tryEmit(Report(Tasks, done: true));
        }
    }

    private static ExecutePlanResponse Report(long completed, bool done)
    {
        var progress = new ExecutePlanResponse.Types.ExecutionProgress { NumInflightTasks = done ? 0 : 1 };
        progress.Stages.Add(new ExecutePlanResponse.Types.ExecutionProgress.Types.StageInfo { StageId = 0, NumTasks = Tasks, NumCompletedTasks = completed, Done = done });
        return new ExecutePlanResponse { ExecutionProgress = progress };
    }

    private async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
