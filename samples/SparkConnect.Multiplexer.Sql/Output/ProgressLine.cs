using System.Diagnostics;
using System.Globalization;
using Spark.Connect;
using SparkConnect.Multiplexer.Sql.Execution;

namespace SparkConnect.Multiplexer.Sql.Output;

/// <summary>What a statement reports to while it runs; disposed before its result is printed.</summary>
internal interface IStatementProgress : IExecutionObserver, IAsyncDisposable
{
}

/// <summary>
/// The line a long statement shows while it runs: the engine's tasks when it reports execution_progress (Spark 4),
/// otherwise the time so far and the rows received. On a terminal it is redrawn in place and erased at the end;
/// elsewhere (when asked for) each update is a line of its own.
/// </summary>
internal sealed class ProgressLine : IStatementProgress
{
    /// <summary>Statements quicker than this show no progress at all.</summary>
    public static readonly TimeSpan FirstAfter = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan Every = TimeSpan.FromMilliseconds(500);
    private readonly TextWriter _writer;
    private readonly bool _inPlace;
    private readonly Stopwatch _elapsed = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private ExecutePlanResponse.Types.ExecutionProgress? _progress;
    private long _rows;
    private bool _drawn;

    private ProgressLine(TextWriter writer, bool inPlace)
    {
        _writer = writer;
        _inPlace = inPlace;
        _loop = RunAsync(_stop.Token);
    }

    /// <summary>A progress line on <paramref name="writer"/>, or an observer that shows nothing.</summary>
    public static IStatementProgress Start(TextWriter? writer, bool inPlace) => writer is null ? new Silent() : new ProgressLine(writer, inPlace);

    public void OnProgress(ExecutePlanResponse.Types.ExecutionProgress progress) => Volatile.Write(ref _progress, progress);

    public void OnRows(long total) => Interlocked.Exchange(ref _rows, total);

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_drawn && _inPlace)
        {
            await _writer.WriteAsync("\r\u001b[K").ConfigureAwait(false);
            await _writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        await Task.Delay(FirstAfter, cancellationToken).ConfigureAwait(false);
        using var timer = new PeriodicTimer(Every);
        do
        {
            var text = Describe(Volatile.Read(ref _progress), Interlocked.Read(ref _rows), _elapsed.Elapsed);
            await _writer.WriteAsync(_inPlace ? "\r" + text + " (Ctrl+C to interrupt)\u001b[K" : text + Environment.NewLine).ConfigureAwait(false);
            await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            _drawn = true;
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }

    private static string Describe(ExecutePlanResponse.Types.ExecutionProgress? progress, long rows, TimeSpan elapsed)
    {
        var seconds = elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
        var received = rows > 0 ? string.Create(CultureInfo.InvariantCulture, $", {rows:N0} rows") : "";
        if (progress is null || progress.Stages.Count == 0)
        {
            return $"Running... {seconds}{received}";
        }

        // As PySpark's progress bar: every stage's tasks together.
        var tasks = progress.Stages.Sum(s => s.NumTasks);
        var done = progress.Stages.Sum(s => s.NumCompletedTasks);
        var read = progress.Stages.Sum(s => s.InputBytesRead);
        const int width = 20;
        var filled = tasks == 0 ? 0 : (int)(width * done / tasks);
        var bar = new string('=', filled) + (filled < width ? ">" + new string(' ', width - filled - 1) : "");
        return string.Create(CultureInfo.InvariantCulture, $"[{bar}] {done}/{tasks} tasks, {progress.NumInflightTasks} running, {Bytes(read)} read, {seconds}{received}");
    }

    private static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):0.0} GiB"),
    };

    private sealed class Silent : IStatementProgress
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        public void OnProgress(ExecutePlanResponse.Types.ExecutionProgress progress)
        {
        }

        public void OnRows(long total)
        {
        }
    }
}
