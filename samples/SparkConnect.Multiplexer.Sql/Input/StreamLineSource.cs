using System.Threading.Channels;

namespace SparkConnect.Multiplexer.Sql.Input;

/// <summary>
/// Lines from a reader (standard input when it is a pipe or a file), read on a thread of their own so that waiting
/// for the next line can be cancelled (a blocked console read cannot).
/// </summary>
internal sealed class StreamLineSource : ILineSource
{
    private readonly Channel<string> _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(16) { SingleReader = true, SingleWriter = true });
    private readonly TextWriter? _prompt;

    public StreamLineSource(TextReader reader, TextWriter? prompt)
    {
        _prompt = prompt;
        var thread = new Thread(() => Pump(reader)) { IsBackground = true, Name = "stdin" };
        thread.Start();
    }

    public async Task<string?> ReadLineAsync(bool continuation, CancellationToken cancellationToken)
    {
        if (_prompt is not null)
        {
            await _prompt.WriteAsync(continuation ? Prompts.Continuation : Prompts.Statement).ConfigureAwait(false);
            await _prompt.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        return await _lines.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false) && _lines.Reader.TryRead(out var line)
            ? line
            : null;
    }

    public void Dispose()
    {
        // The pump thread is a background thread blocked in a read; it ends with the process.
    }

    private void Pump(TextReader reader)
    {
        try
        {
            while (reader.ReadLine() is { } line)
            {
                // Blocking here (a full channel) is the back-pressure: lines are read as statements are run.
                while (!_lines.Writer.TryWrite(line))
                {
                    if (!_lines.Writer.WaitToWriteAsync().AsTask().GetAwaiter().GetResult())
                    {
                        return;
                    }
                }
            }
        }
        catch (IOException)
        {
            // A broken pipe ends the input like its end does.
        }

        _lines.Writer.TryComplete();
    }
}

/// <summary>The prompts, beeline's shape with spark-sql's name.</summary>
internal static class Prompts
{
    public const string Statement = "spark-sql> ";
    public const string Continuation = "         > ";
}
