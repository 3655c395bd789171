using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace SparkConnect.Multiplexer.Benchmarks;

/// <summary>
/// The processes of the hostile and deployed runs: this same executable started with <c>--serve-engine</c> (the
/// synthetic engine alone), <c>--serve-engines COUNT</c>, <c>--serve-yarp ENGINE</c> or <c>--serve-gateway</c> (the
/// gateway as the sample host runs it in its Static engine mode: full <c>WebApplication.CreateBuilder</c>,
/// configuration from environment variables, Server GC), and the sample host's own executable. This executable's
/// children bind port 0 and print <c>ready</c> and the addresses they got on one line, so no other process can take
/// a port between its choice and the bind; they exit when their standard input closes, so none outlives the run.
/// </summary>
internal sealed partial class ChildProcess : IAsyncDisposable
{
    private const string Ready = "ready";
    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();
    private readonly List<Uri> _addresses = [];
    private readonly bool _readsInput;

    private ChildProcess(Process process, bool readsInput)
    {
        _process = process;
        _readsInput = readsInput;
    }

    /// <summary>The first address the child listens on.</summary>
    public Uri Address => Addresses[0];

    /// <summary>Every address the child said it listens on, in the order of its listeners.</summary>
    public IReadOnlyList<Uri> Addresses
    {
        get
        {
            lock (_addresses)
            {
                return [.. _addresses];
            }
        }
    }

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

    /// <summary>
    /// The synthetic engine on a port of its own choosing, or on <paramref name="port"/>: the hostile run starts a
    /// killed engine again where the gateway expects it.
    /// </summary>
    public static Task<ChildProcess> StartEngineAsync(int port = 0)
        => StartSelfAsync(["--serve-engine", port.ToString(CultureInfo.InvariantCulture)], 1, []);

    /// <summary>
    /// The deployed run's engine process: one synthetic engine (4 MiB and 64 KiB batches) listening on
    /// <paramref name="listeners"/> ports, so each of its <see cref="Addresses"/> is an engine of its own to the gateway.
    /// </summary>
    public static Task<ChildProcess> StartEnginesAsync(int listeners)
        => StartSelfAsync(["--serve-engines", listeners.ToString(CultureInfo.InvariantCulture)], listeners, []);

    /// <summary>A minimal YARP host in a process of its own (<c>--serve-yarp ENGINE</c>).</summary>
    public static Task<ChildProcess> StartYarpAsync(Uri engine)
        => StartSelfAsync(["--serve-yarp", engine.ToString()], 1, new(StringComparer.Ordinal) { ["Logging__LogLevel__Default"] = "Warning" });

    /// <summary>
    /// The sample host's own executable (its Release build), run from its output directory so it reads its
    /// appsettings.json as deployed; <paramref name="settings"/> makes its <c>--Key=Value</c> command-line overrides
    /// from its port and management port. It routes the management endpoint by port number, so it cannot listen on
    /// port 0: it gets two picked ports, and new ones when another process took one first. It is ready when Kestrel
    /// has said it listens on both (the settings must keep <c>Microsoft.Hosting.Lifetime</c> at Information).
    /// </summary>
    public static Task<ChildProcess> StartSampleHostAsync(string executable, Func<int, int, IEnumerable<string>> settings, IReadOnlyDictionary<string, string>? environment = null)
        => FreePorts.StartAsync(2, ports =>
        {
            var info = new ProcessStartInfo(executable)
            {
                WorkingDirectory = Path.GetDirectoryName(executable)!,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var setting in settings(ports[0], ports[1]))
            {
                info.ArgumentList.Add(setting);
            }

            foreach (var (key, value) in environment ?? new Dictionary<string, string>())
            {
                info.Environment[key] = value;
            }

            // The sample host does not read standard input: it is stopped with SIGTERM, as a service manager stops it.
            return LaunchAsync(info, "sample host", addresses: 2, readsInput: false);
        });

    public static Task<ChildProcess> StartGatewayAsync(Uri engine, Dictionary<string, string>? extra = null)
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

        return StartSelfAsync(["--serve-gateway"], 1, environment);
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

    private static Task<ChildProcess> StartSelfAsync(string[] arguments, int addresses, Dictionary<string, string> environment)
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

        return LaunchAsync(info, string.Join(' ', arguments.Take(2)), addresses, readsInput: true);
    }

    /// <summary>
    /// Starts the process and waits until it has said it listens on <paramref name="addresses"/> addresses: this
    /// executable's modes print <c>ready URL ...</c>, Kestrel in the sample host <c>Now listening on: URL</c> once per
    /// endpoint. Throws with the child's last lines when it exits first (an address in use among them) or is silent.
    /// </summary>
    private static async Task<ChildProcess> LaunchAsync(ProcessStartInfo info, string what, int addresses, bool readsInput)
    {
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {info.FileName} {what}");
        var child = new ChildProcess(process, readsInput);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }

            if (child.Listening(e.Data) >= addresses)
            {
                ready.TrySetResult();
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
        var first = await Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != ready.Task)
        {
            // WaitForExitAsync has waited for the end of its output: an address-in-use failure is in the tail.
            var tail = child.Tail;
            await child.DisposeAsync();
            throw new InvalidOperationException($"{what} did not start: {tail}");
        }

        return child;
    }

    /// <summary>Takes the addresses a line announces (a ready line or Kestrel's); returns how many the child has announced.</summary>
    private int Listening(string line)
    {
        IEnumerable<string> announced = line.StartsWith(Ready + " ", StringComparison.Ordinal)
            ? line[(Ready.Length + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            : ListeningOn().Match(line) is { Success: true } match ? [match.Groups["address"].Value] : [];
        lock (_addresses)
        {
            _addresses.AddRange(announced.Select(a => new Uri(a)));
            return _addresses.Count;
        }
    }

    [GeneratedRegex(@"Now listening on: (?<address>https?://\S+)", RegexOptions.CultureInvariant)]
    private static partial Regex ListeningOn();

    /// <summary>The ready line of a child of this executable: the addresses its Kestrel bound, in the order of its listeners.</summary>
    private static string ReadyLine(WebApplication app)
        => Ready + " " + string.Join(' ', app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses);

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

    /// <summary>The child side of <c>--serve-engine PORT</c> (0: a port of its own choosing).</summary>
    public static async Task<int> ServeEngineAsync(int port)
    {
        await using var engine = await SyntheticEngine.StartAsync([Hostile.BatchBytes], port);
        Console.WriteLine(Ready + " " + engine.Address);
        await Console.In.ReadToEndAsync();
        return 0;
    }

    /// <summary>The child side of <c>--serve-engines COUNT</c>: COUNT listeners on ports of their own choosing.</summary>
    public static async Task<int> ServeEnginesAsync(int listeners)
    {
        await using var engine = await SyntheticEngine.StartAsync([4 * 1024 * 1024, Hostile.BatchBytes], Enumerable.Repeat(0, listeners).ToList());
        Console.WriteLine(Ready + " " + string.Join(' ', engine.Addresses));
        await Console.In.ReadToEndAsync();
        return 0;
    }

    /// <summary>The child side of <c>--serve-yarp ENGINE</c>: YARP in a full <c>WebApplication.CreateBuilder</c> host.</summary>
    public static async Task<int> ServeYarpAsync(Uri engine)
    {
        var app = Hosts.YarpApp(WebApplication.CreateBuilder(), 0, engine);
        await app.StartAsync();
        Console.WriteLine(ReadyLine(app));
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
    /// The child side of <c>--serve-gateway</c>: the sample host's Program.cs with EngineMode Static, on loopback.
    /// </summary>
    public static async Task<int> ServeGatewayAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddSparkConnectGateway();
        var app = builder.Build();
        app.MapSparkConnectGateway();
        await app.StartAsync();
        Console.WriteLine(ReadyLine(app));
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
