using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using SparkConnect.Multiplexer.Processes.Launching;

namespace SparkConnect.Multiplexer.Processes.Engines;

/// <summary>
/// One engine's OS process: started with its stdout and stderr written, line by line, to its log file, the last lines
/// kept for error messages, stopped gracefully (SIGTERM) or killed with its process tree. An engine adopted from a
/// gateway that stopped (<see cref="Adopt"/>) is not this process's child: its exit is polled and its output goes
/// where its first gateway sent it.
/// </summary>
internal sealed partial class EngineProcess : IAsyncDisposable
{
    public const string LogFileName = "engine.log";
    public const int TailLines = 20;

    public const int SigTerm = 15;

    /// <summary>The exit code reported for an adopted engine, whose real one only its parent could read.</summary>
    public const int UnknownExitCode = -1;

    /// <summary>How often an adopted engine is checked for having exited.</summary>
    private static readonly TimeSpan AdoptedExitPollInterval = TimeSpan.FromMilliseconds(500);

    private readonly Process _process;
    private readonly StreamWriter? _log;
    private readonly Queue<string> _tail = new();
    private readonly Lock _gate = new();
    private readonly Task<int> _exited;
    private readonly CancellationTokenSource _released = new();
    private bool _logClosed;

    private EngineProcess(Process process, StreamWriter log, string logPath, Task exited)
    {
        _process = process;
        _log = log;
        LogPath = logPath;
        Id = process.Id;
        _exited = WaitForExitCodeAsync(exited);
    }

    private EngineProcess(Process process, string logPath, DateTimeOffset startedAt)
    {
        _process = process;
        _logClosed = true;
        LogPath = logPath;
        Id = process.Id;
        IsAdopted = true;
        _exited = PollForExitAsync(startedAt);
    }

    /// <summary>Whether another gateway started it (see <see cref="Adopt"/>).</summary>
    public bool IsAdopted { get; }

    /// <summary>The OS process id.</summary>
    public int Id { get; }

    /// <summary>The engine's log file.</summary>
    public string LogPath { get; }

    /// <summary>Completes with the exit code when the process has exited and its output is written to the log.</summary>
    public Task<int> Exited => _exited;

    /// <summary>Starts the process in <paramref name="workDirectory"/>, logging to <c>engine.log</c> there.</summary>
    /// <exception cref="Win32Exception">The command cannot be run.</exception>
    public static EngineProcess Start(EngineCommandLine commandLine, string workDirectory)
    {
        Directory.CreateDirectory(workDirectory);
        var logPath = Path.Combine(workDirectory, LogFileName);
        var log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete)) { AutoFlush = true };
        var startInfo = new ProcessStartInfo(commandLine.FileName)
        {
            WorkingDirectory = workDirectory,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
        };
        foreach (var argument in commandLine.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var (variable, value) in commandLine.Environment)
        {
            startInfo.Environment[variable] = value;
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        EngineProcess? engine = null;
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += (_, _) => exited.TrySetResult();
        process.OutputDataReceived += (_, e) => Received(e.Data);
        process.ErrorDataReceived += (_, e) => Received(e.Data);
        try
        {
            process.Start();
        }
        catch
        {
            process.Dispose();
            log.Dispose();
            throw;
        }

        // The engine reads nothing; a closed stdin makes a launcher that waits for input fail fast.
        process.StandardInput.Close();
        engine = new EngineProcess(process, log, logPath, exited.Task);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return engine;

        void Received(string? line)
        {
            if (line is not null)
            {
                engine?.Append(line);
            }
        }
    }

    /// <summary>
    /// Takes over an engine process another gateway started and left running (<see cref="EngineWorkDirectories"/>);
    /// null when it is gone or the id now names another process.
    /// </summary>
    public static EngineProcess? Adopt(EngineDirectoryState state, string workDirectory)
    {
        if (!EngineWorkDirectories.IsRunning(state.ProcessId, state.ProcessStartedAt))
        {
            return null;
        }

        try
        {
            return new EngineProcess(Process.GetProcessById(state.ProcessId), Path.Combine(workDirectory, LogFileName), state.ProcessStartedAt);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>
    /// Lets the process run on without this gateway (handed over to another when this one stops): its output is no
    /// longer read, and disposing this no longer stops it.
    /// </summary>
    public void Release()
    {
        _released.Cancel();
        CloseLog();
        _process.Dispose();
    }

    /// <summary>The last lines the engine wrote (stdout and stderr, interleaved as they arrived).</summary>
    public IReadOnlyList<string> Tail()
    {
        lock (_gate)
        {
            return [.. _tail];
        }
    }

    /// <summary>Asks the process to stop (SIGTERM); false when it could not be signalled.</summary>
    public bool Terminate()
    {
        if (_exited.IsCompleted)
        {
            return false;
        }

        if (OperatingSystem.IsWindows())
        {
            // No SIGTERM on Windows: a launcher there is stopped the hard way.
            return false;
        }

        return Kill(Id, SigTerm) == 0;
    }

    /// <summary>Sends <paramref name="signal"/> to process <paramref name="processId"/>; false when it could not be signalled.</summary>
    public static bool Signal(int processId, int signal) => Kill(processId, signal) == 0;

    /// <summary>Kills the process and every process it started.</summary>
    public void KillTree()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or NotSupportedException)
        {
            // Already gone.
        }
    }

    /// <summary>SIGTERM, up to <paramref name="gracePeriod"/> to exit, then the process tree is killed.</summary>
    /// <returns>True when the process exited within the grace period.</returns>
    public async Task<bool> StopAsync(TimeSpan gracePeriod, CancellationToken cancellationToken)
    {
        var graceful = false;
        if (gracePeriod > TimeSpan.Zero && Terminate())
        {
            graceful = await WaitAsync(gracePeriod, cancellationToken);
        }

        if (!_exited.IsCompleted)
        {
            KillTree();
            await WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        }

        return graceful;
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the exit; true when it happened.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _exited.WaitAsync(timeout, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (OperationCanceledException)
        {
            return _exited.IsCompleted;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_released.IsCancellationRequested)
        {
            return;
        }

        if (!_exited.IsCompleted)
        {
            KillTree();
            await WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        }

        CloseLog();
        _process.Dispose();
    }

    private void Append(string line)
    {
        lock (_gate)
        {
            _tail.Enqueue(line);
            if (_tail.Count > TailLines)
            {
                _tail.Dequeue();
            }

            if (!_logClosed)
            {
                try
                {
                    _log?.WriteLine(line);
                }
                catch (IOException)
                {
                    // A full disk must not take the engine down; the tail still has the last lines.
                }
            }
        }
    }

    private void CloseLog()
    {
        lock (_gate)
        {
            if (!_logClosed)
            {
                _logClosed = true;
                _log?.Dispose();
            }
        }
    }

    private async Task<int> WaitForExitCodeAsync(Task exited)
    {
        await exited.ConfigureAwait(false);

        // Let the last output reach the log; a grandchild that outlived the process may hold the pipes open, so not
        // for long.
        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await _process.WaitForExitAsync(drain.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        return _process.ExitCode;
    }

    /// <summary>Not a child: nothing tells this process it exited, so whether it still runs is asked now and then.</summary>
    private async Task<int> PollForExitAsync(DateTimeOffset startedAt)
    {
        try
        {
            while (EngineWorkDirectories.IsRunning(Id, startedAt))
            {
                await Task.Delay(AdoptedExitPollInterval, _released.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Released: this gateway no longer watches it.
        }

        return UnknownExitCode;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
