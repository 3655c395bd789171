using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Sql.Tests.Infrastructure;

/// <summary>
/// The SQL shell on a pseudo-terminal (util-linux <c>script</c>), as a person at a terminal runs it: the test types
/// keys (Ctrl+C as the byte 0x03, which the terminal turns into SIGINT) and reads the screen output.
/// </summary>
internal sealed partial class TerminalSession : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _screen = new();
    private readonly Lock _gate = new();
    private readonly Task _reader;
    private readonly string _home;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private TerminalSession(Process process, string home)
    {
        _process = process;
        _home = home;
        _reader = Task.Run(ReadAsync);
    }

    public string HistoryFile => Path.Combine(_home, "history");

    /// <summary>Everything the shell wrote to the terminal, without ANSI control sequences.</summary>
    public string Screen
    {
        get
        {
            lock (_gate)
            {
                return Ansi().Replace(_screen.ToString(), "");
            }
        }
    }

    public static TerminalSession Start(params string[] arguments)
    {
        var home = Directory.CreateTempSubdirectory("sql-shell-tty-").FullName;
        var command = "exec dotnet " + string.Join(' ', new[] { ShellProcess.Dll }.Concat(arguments).Select(Quote));
        var start = new ProcessStartInfo("script")
        {
            ArgumentList = { "--quiet", "--flush", "--return", "--command", command, "/dev/null" },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = home,
        };
        start.Environment["TERM"] = "xterm";
        start.Environment["HOME"] = home;
        start.Environment["SPARK_CONNECT_SQL_HISTORY"] = Path.Combine(home, "history");
        start.Environment.Remove("SPARK_CONNECT_TOKEN");
        return new TerminalSession(Process.Start(start)!, home);
    }

    /// <summary>Types keys: text, "\r" for Enter, "\x1b[A" for Up, "\x03" for Ctrl+C, "\x04" for Ctrl+D.</summary>
    public async Task TypeAsync(string keys)
    {
        await _process.StandardInput.WriteAsync(keys);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Waits until <paramref name="text"/> is on the screen <paramref name="times"/> times.</summary>
    public async Task WaitForAsync(string text, int times = 1)
    {
        using var timeout = new CancellationTokenSource(ShellProcess.Patience);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                changed = _changed.Task;
            }

            if (Count(Screen, text) >= times)
            {
                return;
            }

            if (_process.HasExited && _reader.IsCompleted)
            {
                Assert.Fail($"The shell ended before '{text}' was on the screen ({times} times):\n{Screen}");
            }

            try
            {
                await changed.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"'{text}' was not on the screen {times} times within {ShellProcess.Patience.TotalSeconds:F0} s:\n{Screen}");
            }
        }
    }

    public static int Count(string screen, string text)
    {
        var count = 0;
        for (var at = screen.IndexOf(text, StringComparison.Ordinal); at >= 0; at = screen.IndexOf(text, at + text.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    public async Task<int> WaitForExitAsync()
    {
        using var timeout = new CancellationTokenSource(ShellProcess.Patience);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The shell did not exit within {ShellProcess.Patience.TotalSeconds:F0} s:\n{Screen}");
        }

        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync(CancellationToken.None);
        await _reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _process.Dispose();
        ServerProcess.DeleteDirectory(_home);
    }

    private static string Quote(string argument) => "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private async Task ReadAsync()
    {
        var buffer = new char[4096];
        int read;
        while ((read = await _process.StandardOutput.ReadAsync(buffer)) > 0)
        {
            TaskCompletionSource changed;
            lock (_gate)
            {
                _screen.Append(buffer, 0, read);
                changed = _changed;
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            changed.TrySetResult();
        }

        lock (_gate)
        {
            _changed.TrySetResult();
        }
    }

    // CSI sequences (cursor moves, erase, colours) and the keypad-mode switches .NET writes.
    [GeneratedRegex(@"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]")]
    private static partial Regex Ansi();
}
