using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Sql.Tests.Infrastructure;

/// <summary>
/// The SQL shell as its own process, its standard input a pipe the test writes to, its standard output (results)
/// and standard error (row counts, progress, errors) read line by line as they come.
/// </summary>
internal sealed class ShellProcess : IAsyncDisposable
{
    /// <summary>How long to wait for something the shell should do soon; only there to end a hung test.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public static readonly string Dll = typeof(ShellProcess).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ShellDll").Value!;

    private readonly Process _process;
    private readonly OutputLines _output = new();
    private readonly OutputLines _errors = new();
    private readonly string _home;

    private ShellProcess(Process process, string home)
    {
        _process = process;
        _home = home;
    }

    public int Id => _process.Id;

    /// <summary>Standard output so far (the result tables).</summary>
    public IReadOnlyList<string> Output => _output.Lines;

    /// <summary>Standard error so far (row counts, progress, errors).</summary>
    public IReadOnlyList<string> Errors => _errors.Lines;

    /// <summary>Both streams, for failure messages.</summary>
    public string Transcript => "stdout:\n" + string.Join('\n', Output) + "\nstderr:\n" + string.Join('\n', Errors);

    public static ShellProcess Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var home = Directory.CreateTempSubdirectory("sql-shell-test-").FullName;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = home,
        };
        start.ArgumentList.Add(Dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // No history file in the user's home, no token from the test runner's environment.
        start.Environment["HOME"] = home;
        start.Environment["SPARK_CONNECT_SQL_HISTORY"] = "";
        start.Environment.Remove("SPARK_CONNECT_TOKEN");
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var shell = new ShellProcess(Process.Start(start)!, home);
        shell._process.OutputDataReceived += (_, e) => shell._output.Add(e.Data);
        shell._process.ErrorDataReceived += (_, e) => shell._errors.Add(e.Data);
        shell._process.BeginOutputReadLine();
        shell._process.BeginErrorReadLine();
        return shell;
    }

    /// <summary>Runs the shell with <paramref name="input"/> as its whole standard input; its exit code once it ends.</summary>
    public static async Task<(int ExitCode, ShellProcess Shell)> RunAsync(string input, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var shell = Start(arguments, environment);
        await shell.WriteAsync(input);
        shell.CloseInput();
        return (await shell.WaitForExitAsync(), shell);
    }

    public async Task WriteAsync(string text)
    {
        await _process.StandardInput.WriteAsync(text);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Ends standard input (what Ctrl+D or the end of a script does).</summary>
    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Sends a signal to the shell process: SIGINT is what Ctrl+C sends, SIGTERM what a service manager sends.</summary>
    public void Signal(PosixSignal signal)
    {
        var number = signal switch
        {
            PosixSignal.SIGINT => 2,
            PosixSignal.SIGTERM => 15,
            PosixSignal.SIGHUP => 1,
            _ => throw new ArgumentOutOfRangeException(nameof(signal), signal, "Not a signal these tests send."),
        };
        Assert.AreEqual(0, NativeMethods.Kill(Id, number), $"kill({Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Waits until a standard error line matches; fails with the transcript if the shell ends first.</summary>
    public Task<string> WaitForErrorAsync(Func<string, bool> match) => WaitForAsync(_errors, match);

    /// <summary>Waits until a standard output line matches.</summary>
    public Task<string> WaitForOutputAsync(Func<string, bool> match) => WaitForAsync(_output, match);

    public async Task<int> WaitForExitAsync()
    {
        using var timeout = new CancellationTokenSource(Patience);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The shell did not exit within {Patience.TotalSeconds:F0} s.\n{Transcript}");
        }

        // Exited: wait for the end of both streams, so that every line is in.
        await _process.WaitForExitAsync(CancellationToken.None);
        return _process.ExitCode;
    }

    public bool HasExited => _process.HasExited;

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }

        _process.Dispose();
        ServerProcess.DeleteDirectory(_home);
    }

    private async Task<string> WaitForAsync(OutputLines lines, Func<string, bool> match)
    {
        using var timeout = new CancellationTokenSource(Patience);
        var seen = 0;
        while (true)
        {
            var changed = lines.Changed;
            var all = lines.Lines;
            for (; seen < all.Count; seen++)
            {
                if (match(all[seen]))
                {
                    return all[seen];
                }
            }

            if (lines.Ended)
            {
                Assert.Fail($"The shell ended its output without the line waited for.\n{Transcript}");
            }

            try
            {
                await changed.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"The line waited for did not come within {Patience.TotalSeconds:F0} s.\n{Transcript}");
            }
        }
    }

    /// <summary>Lines of one stream, and a task that completes at the next line (or the end).</summary>
    private sealed class OutputLines
    {
        private readonly Lock _gate = new();
        private readonly List<string> _lines = [];
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_gate)
                {
                    return [.. _lines];
                }
            }
        }

        public Task Changed
        {
            get
            {
                lock (_gate)
                {
                    return _changed.Task;
                }
            }
        }

        public bool Ended { get; private set; }

        public void Add(string? line)
        {
            TaskCompletionSource changed;
            lock (_gate)
            {
                if (line is null)
                {
                    Ended = true;
                }
                else
                {
                    _lines.Add(line);
                }

                changed = _changed;
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            changed.TrySetResult();
        }
    }
}

/// <summary>kill(2), so that the tests need no kill program (procps) on the machine.</summary>
internal static class NativeMethods
{
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static extern int Kill(int pid, int signal);
}
