namespace SparkConnect.Multiplexer.Sql.Input;

/// <summary>Where the shell's lines come from: a terminal with line editing, or a stream (a pipe, a file).</summary>
internal interface ILineSource : IDisposable
{
    /// <summary>
    /// The next line; null at the end of the input (Ctrl+D). Cancelling <paramref name="cancellationToken"/> (Ctrl+C)
    /// abandons the line being typed with <see cref="OperationCanceledException"/>.
    /// </summary>
    Task<string?> ReadLineAsync(bool continuation, CancellationToken cancellationToken);
}
