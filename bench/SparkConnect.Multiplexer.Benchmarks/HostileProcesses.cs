using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace SparkConnect.Multiplexer.Benchmarks;

/// <summary>
/// The processes of the hostile run: this same executable started with <c>--serve-engine PORT</c> (the synthetic
/// engine alone) or <c>--serve-gateway PORT</c> (the gateway as the sample host runs it in its Static engine mode:
/// full <c>WebApplication.CreateBuilder</c>, configuration from environment variables, Server GC). A child prints
/// <c>ready</c> once it listens and exits when its standard input closes, so none outlives the run.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private const string Ready = "ready";
    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();

    private ChildProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The last lines the child wrote (for errors).</summary>
    public string Tail
    {
        get
        {
            lock (_lastLines)
            {
                return string.Join(" | ", _lastLines);
            }
        }
    }

    public static Task<ChildProcess> StartEngineAsync(int port) => StartAsync("--serve-engine", port, []);

    public static Task<ChildProcess> StartGatewayAsync(int port, Uri engine, Dictionary<string, string>? extra = null)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["SparkConnectGateway__Engines__Default__Address"] = engine.ToString(),
            ["SparkConnectGateway__Authentication__Tokens__0__Token"] = BenchRequests.Token,
            ["SparkConnectGateway__Authentication__Tokens__0__User"] = BenchRequests.User,
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (key, value) in extra ?? [])
        {
            environment[key] = value;
        }

        return StartAsync("--serve-gateway", port, environment);
    }

    /// <summary>Resident set size in bytes (VmRSS of /proc/PID/status); 0 once the process is gone.</summary>
    public long Rss() => Memory.Rss(_process.Id);

    /// <summary>SIGKILL: the kernel closes the child's sockets, as when an engine's pod or JVM dies.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: false);
        }
        catch (InvalidOperationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                try
                {
                    await _process.WaitForExitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    Kill();
                    await _process.WaitForExitAsync();
                }
            }
        }
        catch (IOException)
        {
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<ChildProcess> StartAsync(string mode, int port, Dictionary<string, string> environment)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var info = new ProcessStartInfo(self)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            info.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        }

        info.ArgumentList.Add(mode);
        info.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {self} {mode}");
        var child = new ChildProcess(process, new Uri($"http://127.0.0.1:{port}"));
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }

            if (e.Data == Ready)
            {
                ready.TrySetResult();
                return;
            }

            lock (child._lastLines)
            {
                child._lastLines.Enqueue(e.Data);
                if (child._lastLines.Count > 20)
                {
                    child._lastLines.Dequeue();
                }
            }
        }

        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(ready.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != ready.Task)
        {
            var tail = child.Tail;
            await child.DisposeAsync();
            throw new InvalidOperationException($"{mode} {port} did not start: {tail}");
        }

        return child;
    }

    /// <summary>The child side of <c>--serve-engine PORT</c>.</summary>
    public static async Task<int> ServeEngineAsync(int port)
    {
        await using var engine = await SyntheticEngine.StartAsync([Hostile.BatchBytes], port);
        Console.WriteLine(Ready);
        await Console.In.ReadToEndAsync();
        return 0;
    }

    /// <summary>
    /// The child side of <c>--serve-gateway PORT</c>: the sample host's Program.cs with EngineMode Static, on loopback.
    /// </summary>
    public static async Task<int> ServeGatewayAsync(int port)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddSparkConnectGateway();
        var app = builder.Build();
        app.MapSparkConnectGateway();
        await app.StartAsync();
        Console.WriteLine(Ready);
        await Console.In.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await app.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
        }

        return 0;
    }
}

/// <summary>Resident memory from /proc.</summary>
internal static class Memory
{
    public static long Rss(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }
}

/// <summary>Samples a process's RSS every 10 ms on its own thread and keeps the peak.</summary>
internal sealed class RssSampler : IDisposable
{
    private readonly int _pid;
    private readonly Thread _thread;
    private volatile bool _stop;
    private long _peak;

    public RssSampler(int pid)
    {
        _pid = pid;
        _peak = Memory.Rss(pid);
        _thread = new Thread(Run) { IsBackground = true, Name = "rss-sampler", Priority = ThreadPriority.AboveNormal };
        _thread.Start();
    }

    public long Peak => Interlocked.Read(ref _peak);

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }

    private void Run()
    {
        while (!_stop)
        {
            var rss = Memory.Rss(_pid);
            if (rss > Interlocked.Read(ref _peak))
            {
                Interlocked.Exchange(ref _peak, rss);
            }

            Thread.Sleep(10);
        }
    }
}
