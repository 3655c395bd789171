using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using SparkConnect.Multiplexer.Sql.Execution;
using SparkConnect.Multiplexer.Sql.Input;
using SparkConnect.Multiplexer.Sql.Output;

namespace SparkConnect.Multiplexer.Sql;

/// <summary>
/// The read-run-print loop. Ctrl+C (SIGINT) interrupts the running statement and comes back for the next one; at an
/// idle prompt it drops the statement being typed, and a second Ctrl+C in a row leaves. SIGTERM and SIGHUP leave
/// at once (interrupting a running statement). Every way out goes through <see cref="ReleaseAsync"/>.
/// </summary>
internal sealed class Shell(SparkSqlSession session, ShellOptions options, TextWriter output, TextWriter messages, TextWriter? progress, bool progressInPlace) : IDisposable
{
    /// <summary>Exit code of a run stopped by Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int InterruptedExitCode = 130;

    private readonly Lock _gate = new();
    private CancellationTokenSource? _statement;
    private CancellationTokenSource _read = new();
    private volatile bool _leaving;

    /// <summary>Ctrl+C: interrupts the running statement, or abandons the line being typed.</summary>
    public void Interrupt()
    {
        // Under the lock, so that the source is not swapped or disposed meanwhile; what cancelling starts (the
        // Interrupt call) takes no lock of this shell.
        lock (_gate)
        {
            (_statement ?? _read).Cancel();
        }
    }

    /// <summary>SIGTERM or SIGHUP: interrupt what runs and leave.</summary>
    public void Leave()
    {
        _leaving = true;
        Interrupt();
    }

    /// <summary>Runs the statements of a text (an argument, a file); stops at the first failure or Ctrl+C.</summary>
    public async Task<int> RunScriptAsync(string text)
    {
        foreach (var statement in StatementBuffer.Split(text))
        {
            switch (await RunStatementAsync(statement).ConfigureAwait(false))
            {
                case Outcome.Failed:
                    return 1;
                case Outcome.Interrupted:
                    return InterruptedExitCode;
            }

            if (_leaving)
            {
                return InterruptedExitCode;
            }
        }

        return 0;
    }

    /// <summary>
    /// Reads lines until the end of the input, <c>exit</c>/<c>quit</c> or Ctrl+C twice at the prompt, running every
    /// statement a <c>;</c> completes. A script (<paramref name="stopOnError"/>) stops at its first failed statement
    /// and runs a last statement that lacks its <c>;</c>; at a terminal, failures are shown and the prompt comes back.
    /// </summary>
    public async Task<int> RunLinesAsync(ILineSource input, bool stopOnError)
    {
        var buffer = new StatementBuffer();
        var failed = false;
        var interruptedAtPrompt = false;
        while (!_leaving)
        {
            CancellationToken read;
            lock (_gate)
            {
                read = _read.Token;
            }

            string? line;
            try
            {
                line = await input.ReadLineAsync(!buffer.IsEmpty, read).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (read.IsCancellationRequested)
            {
                lock (_gate)
                {
                    _read = new CancellationTokenSource();
                }

                if (_leaving || interruptedAtPrompt)
                {
                    break;
                }

                interruptedAtPrompt = true;
                buffer.Clear();
                await messages.WriteLineAsync("(To leave, press Ctrl+C again, Ctrl+D, or type exit.)").ConfigureAwait(false);
                continue;
            }

            if (line is null)
            {
                if (stopOnError && buffer.TakeRest() is { } last && !_leaving)
                {
                    failed |= await RunStatementAsync(last).ConfigureAwait(false) == Outcome.Failed;
                }

                break;
            }

            interruptedAtPrompt = false;
            if (buffer.IsEmpty)
            {
                // An empty line does nothing (it used to end the shell); leaving is said in words or with Ctrl+D.
                if (line.Trim().Length == 0)
                {
                    continue;
                }

                if (IsExit(line))
                {
                    break;
                }
            }

            foreach (var statement in buffer.Add(line + "\n"))
            {
                if (await RunStatementAsync(statement).ConfigureAwait(false) == Outcome.Failed)
                {
                    failed = true;
                    if (stopOnError)
                    {
                        return 1;
                    }
                }

                if (_leaving)
                {
                    break;
                }
            }
        }

        return failed ? 1 : 0;
    }

    /// <summary>Releases the session on the server; a failure is reported, not fatal.</summary>
    public async Task ReleaseAsync()
    {
        try
        {
            await session.ReleaseAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
        {
            // Spark before 4.0 has no ReleaseSession: its sessions end when they expire.
        }
        catch (RpcException e)
        {
            await messages.WriteLineAsync($"Could not release session {session.SessionId}: {ErrorText.Describe(e, session.Address)}").ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _read.Dispose();
        }
    }

    private static bool IsExit(string line)
        => line.Trim().TrimEnd(';').Trim().TrimStart('!').ToUpperInvariant() is "EXIT" or "QUIT";

    private async Task<Outcome> RunStatementAsync(string statement)
    {
        using var interrupt = new CancellationTokenSource();
        lock (_gate)
        {
            if (_leaving)
            {
                return Outcome.Interrupted;
            }

            _statement = interrupt;
        }

        var elapsed = Stopwatch.StartNew();
        var observer = ProgressLine.Start(progress, progressInPlace);
        try
        {
            var result = await session.ExecuteAsync(statement, options.MaxRows, observer, interrupt.Token).ConfigureAwait(false);
            await observer.DisposeAsync().ConfigureAwait(false);
            if (result.Columns.Count > 0)
            {
                await output.WriteAsync(ResultTable.Format(result, options.Vertical)).ConfigureAwait(false);
                await output.FlushAsync().ConfigureAwait(false);
                await messages.WriteLineAsync($"{result.RowCount.ToString("N0", CultureInfo.InvariantCulture)} {(result.RowCount == 1 ? "row" : "rows")} ({Seconds(elapsed)})").ConfigureAwait(false);
            }
            else
            {
                await messages.WriteLineAsync($"OK ({Seconds(elapsed)})").ConfigureAwait(false);
            }

            return Outcome.Succeeded;
        }
        catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
        {
            await observer.DisposeAsync().ConfigureAwait(false);
            await messages.WriteLineAsync($"Interrupted ({Seconds(elapsed)}).").ConfigureAwait(false);
            return Outcome.Interrupted;
        }
        catch (RpcException e)
        {
            await observer.DisposeAsync().ConfigureAwait(false);
            await messages.WriteLineAsync(ErrorText.Describe(e, session.Address)).ConfigureAwait(false);
            return Outcome.Failed;
        }
        finally
        {
            lock (_gate)
            {
                _statement = null;
            }
        }
    }

    private static string Seconds(Stopwatch elapsed) => elapsed.Elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s";

    private enum Outcome
    {
        Succeeded,
        Failed,
        Interrupted,
    }
}
