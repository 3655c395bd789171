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

    private readonly bool _readsInput;

    private ChildProcess(Process process, Uri address, bool readsInput)
    {
        _process = process;
        Address = address;
        _readsInput = readsInput;
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

    /// <summary>
    /// The deployed run's engine process: one synthetic engine (4 MiB and 64 KiB batches) listening on every port given,
    /// so each port is an engine of its own to the gateway.
    /// </summary>
    public static Task<ChildProcess> StartEnginesAsync(IReadOnlyList<int> ports)
        => StartSelfAsync(["--serve-engines", string.Join(',', ports.Select(p => p.ToString(CultureInfo.InvariantCulture)))], Loopback(ports[0]), []);

    /// <summary>A minimal YARP host in a process of its own (<c>--serve-yarp PORT ENGINE</c>).</summary>
    public static Task<ChildProcess> StartYarpAsync(int port, Uri engine)
        => StartSelfAsync(["--serve-yarp", port.ToString(CultureInfo.InvariantCulture), engine.ToString()], Loopback(port), new(StringComparer.Ordinal) { ["Logging__LogLevel__Default"] = "Warning" });

    /// <summary>
    /// The sample host's own executable (its Release build), run from its output directory so it reads its
    /// appsettings.json as deployed; <paramref name="settings"/> are <c>--Key=Value</c> command-line overrides.
    /// </summary>
    public static Task<ChildProcess> StartSampleHostAsync(string executable, int port, IEnumerable<string> settings, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(executable)
        {
            WorkingDirectory = Path.GetDirectoryName(executable)!,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var setting in settings)
        {
            info.ArgumentList.Add(setting);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        // The sample host does not read standard input: it is stopped with SIGTERM, as a service manager stops it.
        return LaunchAsync(info, Loopback(port), "sample host", readyLine: false);
    }

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

    /// <summary>User plus system CPU time the process has used so far.</summary>
    public double CpuSeconds() => Memory.CpuSeconds(_process.Id);

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
                if (!_readsInput)
                {
                    Terminate(_process.Id);
                }

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

    /// <summary>Distinct free ports: every listener stays open until all are chosen, so none is handed out twice.</summary>
    public static List<int> FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToList();
        }
        finally
        {
            listeners.ForEach(l => l.Dispose());
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static Task<ChildProcess> StartAsync(string mode, int port, Dictionary<string, string> environment)
        => StartSelfAsync([mode, port.ToString(CultureInfo.InvariantCulture)], Loopback(port), environment);

    private static Uri Loopback(int port) => new($"http://127.0.0.1:{port}");

    private static Task<ChildProcess> StartSelfAsync(string[] arguments, Uri address, Dictionary<string, string> environment)
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

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return LaunchAsync(info, address, string.Join(' ', arguments.Take(2)), readyLine: true);
    }

    /// <summary>
    /// Starts the process and waits until it is ready: it prints <c>ready</c> (this executable's modes), or, for a
    /// process that says nothing (the sample host at Warning level), its port accepts connections.
    /// </summary>
    private static async Task<ChildProcess> LaunchAsync(ProcessStartInfo info, Uri address, string what, bool readyLine)
    {
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {info.FileName} {what}");
        var child = new ChildProcess(process, address, readyLine);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }

            if (readyLine && e.Data == Ready)
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
        if (!readyLine)
        {
            _ = ProbeAsync(address, ready, exited);
        }

        var first = await Task.WhenAny(ready.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != ready.Task)
        {
            var tail = child.Tail;
            await child.DisposeAsync();
            throw new InvalidOperationException($"{what} on {address} did not start: {tail}");
        }

        return child;
    }

    private static async Task ProbeAsync(Uri address, TaskCompletionSource ready, Task exited)
    {
        while (!exited.IsCompleted && !ready.Task.IsCompleted)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, address.Port);
                ready.TrySetResult();
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>SIGTERM through kill(1): the graceful stop a service manager sends.</summary>
    private static void Terminate(int pid)
    {
        try
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false });
            kill?.WaitForExit(2000);
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }

    /// <summary>The child side of <c>--serve-engine PORT</c>.</summary>
    public static async Task<int> ServeEngineAsync(int port)
    {
        await using var engine = await SyntheticEngine.StartAsync([Hostile.BatchBytes], port);
        Console.WriteLine(Ready);
        await Console.In.ReadToEndAsync();
        return 0;
    }

    /// <summary>The child side of <c>--serve-engines PORT,PORT,...</c>.</summary>
    public static async Task<int> ServeEnginesAsync(string ports)
    {
        var list = ports.Split(',').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToList();
        await using var engine = await SyntheticEngine.StartAsync([4 * 1024 * 1024, Hostile.BatchBytes], list);
        Console.WriteLine(Ready);
        await Console.In.ReadToEndAsync();
        return 0;
    }

    /// <summary>The child side of <c>--serve-yarp PORT ENGINE</c>: YARP in a full <c>WebApplication.CreateBuilder</c> host.</summary>
    public static async Task<int> ServeYarpAsync(int port, Uri engine)
    {
        var app = Hosts.YarpApp(WebApplication.CreateBuilder(), port, engine);
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

        await app.DisposeAsync();
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

/// <summary>Resident memory and CPU time from /proc.</summary>
internal static class Memory
{
    /// <summary>/proc reports CPU time in USER_HZ ticks, which Linux fixes at 100 per second for user space.</summary>
    private const double TicksPerSecond = 100;

    /// <summary>utime + stime of /proc/PID/stat (fields 14 and 15, counted after the parenthesised name); 0 once gone.</summary>
    public static double CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // fields[0] is field 3 (state); utime is field 14, stime field 15.
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>The process and its children (nginx's master and workers), from the parent ids in /proc/*/stat.</summary>
    public static IReadOnlyList<int> WithChildren(int pid)
    {
        var found = new List<int> { pid };
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var child) || child == pid)
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == pid)
                {
                    found.Add(child);
                }
            }
            catch (IOException)
            {
            }
        }

        return found;
    }

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
    private readonly Func<long> _read;
    private readonly Thread _thread;
    private volatile bool _stop;
    private long _peak;

    public RssSampler(int pid)
        : this(() => Memory.Rss(pid))
    {
    }

    /// <summary>Samples any resident-size reading (e.g. the sum over nginx's processes).</summary>
    public RssSampler(Func<long> read)
    {
        _read = read;
        _peak = read();
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
            var rss = _read();
            if (rss > Interlocked.Read(ref _peak))
            {
                Interlocked.Exchange(ref _peak, rss);
            }

            Thread.Sleep(10);
        }
    }
}
