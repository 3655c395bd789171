using System.Diagnostics;
using System.Globalization;

namespace SparkConnect.Multiplexer.Benchmarks;

/// <summary>
/// The gateway as deployed (issue 17): the synthetic engine, the gateway (the sample host's Release build: static
/// engine, one static token, Warning logging), nginx <c>grpc_pass</c> and a minimal YARP host each run as a process of
/// their own; this process is the one client and compares each path against direct in interleaved rounds. Then the
/// gateway's memory per 1,000 open streams and per 10,000 idle sessions, and the scale figures (10,000 sessions over
/// 100 engines, 1,000 concurrent streams: gateway CPU per GB forwarded and memory). Writes docs/benchmarks-deployed.md.
/// </summary>
internal static class Deployed
{
    public const string SampleHostProject = "samples/SparkConnect.Multiplexer.SampleHost/SparkConnect.Multiplexer.SampleHost.csproj";
    public const int OpenStreams = 1000;
    public const int IdleSessions = 10_000;
    public const int ScaleEngines = 100;
    public const int ScaleSessions = 10_000;
    public const int ScaleStreams = 1000;
    private const int Mib4 = 4 * 1024 * 1024;
    private const int Kib64 = 64 * 1024;

    public static readonly Scenario[] Scenarios =
    [
        new("analyze-1", "AnalyzePlan, 1 caller", ScenarioKind.Unary, 1, Analyze: true),
        new("config-1", "Config, 1 caller", ScenarioKind.Unary, 1),
        new("analyze-16", "AnalyzePlan, 16 callers", ScenarioKind.Unary, 16, Analyze: true),
        new("analyze-64", "AnalyzePlan, 64 callers", ScenarioKind.Unary, 64, Analyze: true),
        new("stream-4m-1", "ExecutePlan 4 MiB batches, 1 caller", ScenarioKind.Stream, 1, BatchBytes: Mib4, Batches: 8),

        // Fewer batches per call with more callers, so one wave of calls fits in the window (16 x 16 MiB, 64 x 8 MiB).
        new("stream-4m-16", "ExecutePlan 4 MiB batches, 16 callers", ScenarioKind.Stream, 16, BatchBytes: Mib4, Batches: 4),
        new("stream-4m-64", "ExecutePlan 4 MiB batches, 64 callers", ScenarioKind.Stream, 64, BatchBytes: Mib4, Batches: 2),
    ];

    public static async Task<int> RunAsync(DeployedOptions options, string? repoRoot)
    {
        var (quick, build, only) = (options.Quick, options.Build, options.Only);
        if (repoRoot is null)
        {
            Console.Error.WriteLine("The deployed mode starts the sample host's Release build: run it inside the repository, or pass --out <repository root>.");
            return 1;
        }

        var total = Stopwatch.StartNew();
        var report = new DeployedReport(options, Scenarios.Where(s => only is null || s.Id == only).ToArray());
        Console.WriteLine($"SparkConnect.Multiplexer benchmarks as deployed ({(quick ? "quick" : "full")}), {Environment.ProcessorCount} cores, .NET {Environment.Version}, load average {report.LoadAtStart}");
        var sampleHost = await SampleHostAsync(repoRoot, build);
        if (sampleHost is null)
        {
            return 1;
        }

        report.SampleHost = Path.GetRelativePath(repoRoot, sampleHost);
        var engine = await ChildProcess.StartEnginesAsync(1);
        try
        {
            await ThroughputAsync(report, sampleHost, engine, options, total);
            if (only is not null || options.Variants.Count > 0)
            {
                // One scenario or gateway variants, for iterating on a change: the results tables only, nothing written.
                report.Elapsed = total.Elapsed;
                Console.WriteLine(report.Render());
                return 0;
            }

            Console.WriteLine($"memory: {OpenStreams:N0} open streams ({total.Elapsed.TotalSeconds:F0} s)");
            await StreamMemoryAsync(report, sampleHost, engine.Address);
            Console.WriteLine($"memory: {IdleSessions:N0} idle sessions ({total.Elapsed.TotalSeconds:F0} s)");
            report.Sessions = await SessionMemoryAsync(sampleHost, engine.Address);
        }
        finally
        {
            await engine.DisposeAsync();
        }

        Console.WriteLine($"scale: {ScaleSessions:N0} sessions over {ScaleEngines} engines, {ScaleStreams:N0} concurrent streams ({total.Elapsed.TotalSeconds:F0} s)");
        report.Scale = await ScaleAsync(sampleHost, TimeSpan.FromSeconds(quick ? 6 : 20));
        report.Elapsed = total.Elapsed;
        var markdown = report.Render();
        Console.WriteLine();
        Console.WriteLine(markdown);
        var docs = Path.Combine(repoRoot, "docs");
        Directory.CreateDirectory(docs);
        await File.WriteAllTextAsync(Path.Combine(docs, "benchmarks-deployed.md"), markdown);
        Console.WriteLine($"wrote {Path.Combine(docs, "benchmarks-deployed.md")}; done in {total.Elapsed.TotalSeconds:F0} s");
        return 0;
    }

    /// <summary>Builds the sample host in Release (unless told not to) and returns its executable.</summary>
    private static async Task<string?> SampleHostAsync(string repoRoot, bool build)
    {
        var project = Path.Combine(repoRoot, SampleHostProject);
        var executable = Path.Combine(Path.GetDirectoryName(project)!, "bin", "Release", "net10.0", "SparkConnect.Multiplexer.SampleHost");
        if (build)
        {
            Console.WriteLine($"building the sample host: dotnet build -c Release {SampleHostProject}");
            using var process = Process.Start(new ProcessStartInfo("dotnet", ["build", "-c", "Release", project, "-nologo", "-v", "q"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0)
            {
                Console.Error.WriteLine($"The sample host did not build (exit code {process.ExitCode}):");
                Console.Error.WriteLine((await output).Trim());
                Console.Error.WriteLine((await errors).Trim());
                return null;
            }
        }

        if (!File.Exists(executable))
        {
            Console.Error.WriteLine($"{executable} does not exist: build it with dotnet build -c Release {SampleHostProject}, or run without --no-build.");
            return null;
        }

        return executable;
    }

    /// <summary>
    /// The sample host's settings for a run: its appsettings.json, with Static engines, token authentication, Warning
    /// logging, loopback ports. The management endpoint stays on (on a free port), as the sample host ships. Kestrel's
    /// start-up lines stay on (<c>Microsoft.Hosting.Lifetime</c> at Information): they tell the bench the host listens.
    /// </summary>
    private static List<string> GatewaySettings(int port, int managementPort, Uri engine, List<(string Token, string User, Uri Engine)>? users = null)
    {
        var settings = new List<string>
        {
            $"--SampleHost:Port={port}",
            $"--SampleHost:ManagementPort={managementPort}",
            "--SampleHost:ListenAddress=127.0.0.1",
            "--SampleHost:EngineMode=Static",
            "--SparkConnectGateway:Authentication:Mode=Tokens",
            $"--SparkConnectGateway:Authentication:Tokens:0:Token={BenchRequests.Token}",
            $"--SparkConnectGateway:Authentication:Tokens:0:User={BenchRequests.User}",
            $"--SparkConnectGateway:Engines:Default:Address={engine}",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
        };
        for (var i = 0; i < (users?.Count ?? 0); i++)
        {
            var (token, user, address) = users![i];
            settings.Add($"--SparkConnectGateway:Authentication:Tokens:{i + 1}:Token={token}");
            settings.Add($"--SparkConnectGateway:Authentication:Tokens:{i + 1}:User={user}");
            settings.Add($"--SparkConnectGateway:Engines:Users:{user}:Address={address}");
        }

        return settings;
    }

    private static async Task ThroughputAsync(DeployedReport report, string sampleHost, ChildProcess engine, DeployedOptions options, Stopwatch total)
    {
        var quick = options.Quick;
        var scenarios = Scenarios.Where(s => options.Only is null || s.Id == options.Only).ToList();
        var rounds = options.Rounds ?? (quick ? 1 : 3);

        // Counter reports come every half second: with --counters every window holds a few of them.
        var unaryWindow = TimeSpan.FromSeconds(options.Counters ? Math.Max(quick ? 0.5 : 2, 1.5) : quick ? 0.5 : 2);
        var streamWindow = TimeSpan.FromSeconds(options.Counters ? Math.Max(quick ? 0.8 : 3, 1.5) : quick ? 0.8 : 3);
        var warmup = TimeSpan.FromSeconds(quick ? 0.2 : 0.5);
        var paths = new List<BenchPath> { new("direct", engine.Address) };
        var children = new List<ChildProcess>();
        var gateways = new Dictionary<string, int>(StringComparer.Ordinal);
        try
        {
            // The baseline gateway and one process per variant, all from the same configuration apart from the variant's items.
            foreach (var variant in (GatewayVariant?[])[null, .. options.Variants])
            {
                var gateway = await ChildProcess.StartSampleHostAsync(
                    variant?.Executable ?? sampleHost,
                    (port, management) => [.. GatewaySettings(port, management, engine.Address), .. variant?.Arguments ?? []],
                    variant?.Environment);
                children.Add(gateway);
                var name = variant?.PathName ?? "gateway";
                gateways[name] = gateway.Id;
                paths.Add(new BenchPath(name, gateway.Address) { Processes = () => [gateway.Id] });
            }

            // With variants the run compares gateways: nginx and YARP only when asked for.
            if (options.Variants.Count == 0 || options.WithProxies)
            {
                var (nginx, nginxSkipped) = await Hosts.NginxAsync(engine.Address);
                report.NginxSkipped = nginxSkipped;
                report.NginxVersion = Hosts.NginxVersionText;
                if (nginx is not null)
                {
                    paths.Add(nginx);
                }
                else
                {
                    Console.WriteLine($"nginx skipped: {nginxSkipped}");
                }

                var yarp = await ChildProcess.StartYarpAsync(engine.Address);
                children.Add(yarp);
                paths.Add(new BenchPath("yarp", yarp.Address) { Processes = () => [yarp.Id] });
            }

            report.Paths.AddRange(paths.Select(p => p.Name));
            Console.WriteLine($"warm-up ({total.Elapsed.TotalSeconds:F0} s)");
            foreach (var path in paths)
            {
                foreach (var scenario in scenarios)
                {
                    await Measure.RunAsync(path, scenario, warmup, new Cell());
                }
            }

            for (var round = 0; round < rounds; round++)
            {
                Console.WriteLine($"round {round + 1}/{rounds} ({total.Elapsed.TotalSeconds:F0} s, load average {DeployedReport.LoadAverage()})");
                foreach (var scenario in scenarios)
                {
                    // Interleaved: every path runs each scenario in every round, starting with a different path each round.
                    for (var i = 0; i < paths.Count; i++)
                    {
                        var path = paths[(i + round) % paths.Count];
                        var processes = path.Processes?.Invoke() ?? [];
                        var counters = options.Counters && gateways.TryGetValue(path.Name, out var pid)
                            ? await CounterSession.StartAsync(pid, report.Counters(scenario.Id, path.Name), options.AllocationTicks)
                            : null;
                        var cpuBefore = processes.Sum(Memory.CpuSeconds);
                        await Measure.RunAsync(path, scenario, scenario.Kind == ScenarioKind.Stream ? streamWindow : unaryWindow, report.Cell(scenario.Id, path.Name));
                        report.AddCpu(scenario.Id, path.Name, processes.Sum(Memory.CpuSeconds) - cpuBefore);
                        if (counters is not null)
                        {
                            await counters.StopAsync();
                        }
                    }
                }
            }
        }
        finally
        {
            foreach (var path in paths)
            {
                await path.DisposeAsync();
            }

            foreach (var child in children)
            {
                await child.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// RSS of each proxy, started fresh, idle and with 1,000 ExecutePlan streams open at once (64 KiB batches, the engine
    /// waiting 2 s between batches; one session per stream, as 1,000 clients would have).
    /// </summary>
    private static async Task StreamMemoryAsync(DeployedReport report, string sampleHost, Uri engine)
    {
        await using (var gateway = await ChildProcess.StartSampleHostAsync(sampleHost, (port, management) => GatewaySettings(port, management, engine)))
        {
            report.StreamMemory.Add(await StreamWaveAsync("gateway", gateway.Address, () => Memory.Rss(gateway.Id)));
        }

        var (nginx, _) = await Hosts.NginxAsync(engine);
        if (nginx is not null)
        {
            await using (nginx)
            {
                report.StreamMemory.Add(await StreamWaveAsync("nginx (master + workers)", nginx.Address, () => nginx.Processes!().Sum(Memory.Rss)));
            }
        }

        await using (var yarp = await ChildProcess.StartYarpAsync(engine))
        {
            report.StreamMemory.Add(await StreamWaveAsync("yarp", yarp.Address, () => Memory.Rss(yarp.Id)));
        }
    }

    private static async Task<StreamMemoryFigures> StreamWaveAsync(string name, Uri address, Func<long> rss)
    {
        using var client = new BenchClient(address);
        await WaveAsync(client, 20, delayMs: 0, () => { });
        await Task.Delay(1000);
        var idle = rss();
        var open = 0;
        var peakOpen = 0;
        long rssAtPeakOpen = 0;
        using var sampler = new RssSampler(rss);
        var failures = await WaveAsync(client, OpenStreams, delayMs: 2000, () =>
        {
            var now = Interlocked.Increment(ref open);
            if (now > Volatile.Read(ref peakOpen))
            {
                Volatile.Write(ref peakOpen, now);
                if (now == OpenStreams)
                {
                    Volatile.Write(ref rssAtPeakOpen, rss());
                }
            }
        });
        var figures = new StreamMemoryFigures(name, idle, Volatile.Read(ref rssAtPeakOpen), sampler.Peak, Volatile.Read(ref peakOpen), failures);
        Console.WriteLine($"   {name}: RSS idle {Report.Bytes(idle)}, all {OpenStreams:N0} open {Report.Bytes(figures.AllOpen)}, peak {Report.Bytes(figures.Peak)} ({figures.PeakOpen} open at most, {failures} failed)");
        return figures;
    }

    /// <summary>Opens <paramref name="count"/> ExecutePlans at once, one new session each; returns how many failed.</summary>
    private static async Task<int> WaveAsync(BenchClient client, int count, int delayMs, Action opened)
    {
        var failures = 0;
        await Task.WhenAll(Enumerable.Range(0, count).Select(_ => Task.Run(async () =>
        {
            try
            {
                await client.ExecuteAsync(BenchRequests.Execute(Guid.NewGuid().ToString()), 4, Kib64, delayMs, opened);
            }
            catch (Grpc.Core.RpcException)
            {
                Interlocked.Increment(ref failures);
            }
        })));
        return failures;
    }

    /// <summary>A fresh gateway; 10,000 sessions, each opened by one Config call with a new session id, then left idle.</summary>
    private static async Task<SessionMemoryFigures> SessionMemoryAsync(string sampleHost, Uri engine)
    {
        await using var gateway = await ChildProcess.StartSampleHostAsync(sampleHost, (port, management) => GatewaySettings(port, management, engine));
        using var client = new BenchClient(gateway.Address);
        var warm = BenchRequests.Config(Guid.NewGuid().ToString());
        for (var i = 0; i < 200; i++)
        {
            await client.UnaryAsync(false, warm);
        }

        await Task.Delay(1000);
        var idle = gateway.Rss();

        // First the same number of calls on one session: what the calls alone leave in RSS (the GC's heap grows
        // to a working size and keeps it), so that the growth after it is the sessions'.
        var sameSession = Enumerable.Repeat(Guid.NewGuid().ToString(), IdleSessions).ToList();
        await SessionsAsync([client], IdleSessions, sameSession);
        await Task.Delay(2000);
        var afterCalls = gateway.Rss();
        var clock = Stopwatch.StartNew();
        var failures = await SessionsAsync([client], IdleSessions);
        var seconds = clock.Elapsed.TotalSeconds;
        await Task.Delay(2000);
        var after = gateway.Rss();
        Console.WriteLine($"   gateway: RSS idle {Report.Bytes(idle)}, after {IdleSessions:N0} calls on one session {Report.Bytes(afterCalls)}, after {IdleSessions:N0} new sessions {Report.Bytes(after)} ({failures} failed)");
        return new SessionMemoryFigures(IdleSessions, idle, afterCalls, after, seconds, failures);
    }

    /// <summary>Opens sessions with one Config call each, 64 at a time, spread over the clients; returns failures.</summary>
    private static async Task<int> SessionsAsync(List<BenchClient> clients, int count, List<string>? ids = null)
    {
        var next = -1;
        var failures = 0;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                try
                {
                    await clients[i % clients.Count].UnaryAsync(false, BenchRequests.Config(ids?[i] ?? Guid.NewGuid().ToString()));
                }
                catch (Grpc.Core.RpcException)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        })));
        return failures;
    }

    /// <summary>
    /// 100 users, each routed to an engine of its own (100 listeners of one engine process), 10,000 sessions between
    /// them, then 1,000 ExecutePlans running at once, each caller repeating calls of 16 x 64 KiB batches on one of the
    /// sessions: gateway CPU (utime + stime) per GB forwarded, and its RSS.
    /// </summary>
    private static async Task<ScaleFigures> ScaleAsync(string sampleHost, TimeSpan window)
    {
        await using var engines = await ChildProcess.StartEnginesAsync(ScaleEngines);
        var users = engines.Addresses.Select((a, i) => (Token: $"scale-token-{i:D4}-0123456789abcdef", User: $"scale{i}", Engine: a)).ToList();
        await using var gateway = await ChildProcess.StartSampleHostAsync(sampleHost, (port, management) => GatewaySettings(port, management, engines.Address, users));
        var clients = users.Select(u => new BenchClient(gateway.Address, u.Token)).ToList();
        try
        {
            // Session i belongs to user i % 100 (SessionsAsync spreads calls over the clients the same way).
            var ids = Enumerable.Range(0, ScaleSessions).Select(_ => Guid.NewGuid().ToString()).ToList();
            await Task.Delay(1000);
            var idle = gateway.Rss();
            var clock = Stopwatch.StartNew();
            var sessionFailures = await SessionsAsync(clients, ScaleSessions, ids);
            var sessionSeconds = clock.Elapsed.TotalSeconds;
            await Task.Delay(1000);
            var afterSessions = gateway.Rss();
            Console.WriteLine($"   {ScaleSessions:N0} sessions in {sessionSeconds:F1} s ({sessionFailures} failed), RSS {Report.Bytes(idle)} -> {Report.Bytes(afterSessions)}");

            // 1 MiB per call, so calls turn over within the window (a wave of 1,000 calls is 1 GB).
            const int Batches = 16;
            var bytes = new long[ScaleStreams];
            var failures = 0;
            var open = 0;
            var peakOpen = 0;
            using var sampler = new RssSampler(gateway.Id);
            var cpuBefore = gateway.CpuSeconds();
            var engineCpuBefore = engines.CpuSeconds();
            var started = Stopwatch.StartNew();
            var until = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
            await Task.WhenAll(Enumerable.Range(0, ScaleStreams).Select(w => Task.Run(async () =>
            {
                var user = w % users.Count;
                var request = BenchRequests.Execute(ids[user + (w / users.Count * users.Count)]);
                while (Stopwatch.GetTimestamp() < until)
                {
                    var counted = false;
                    try
                    {
                        bytes[w] += await clients[user].ExecuteAsync(request, Batches, Kib64, 0, () =>
                        {
                            counted = true;
                            var now = Interlocked.Increment(ref open);
                            if (now > Volatile.Read(ref peakOpen))
                            {
                                Volatile.Write(ref peakOpen, now);
                            }
                        });
                    }
                    catch (Grpc.Core.RpcException)
                    {
                        Interlocked.Increment(ref failures);
                    }
                    finally
                    {
                        if (counted)
                        {
                            Interlocked.Decrement(ref open);
                        }
                    }
                }
            })));
            var wall = started.Elapsed.TotalSeconds;
            var cpu = gateway.CpuSeconds() - cpuBefore;
            var engineCpu = engines.CpuSeconds() - engineCpuBefore;
            var figures = new ScaleFigures(
                users.Count, ScaleSessions, sessionSeconds, sessionFailures, idle, afterSessions,
                ScaleStreams, peakOpen, wall, bytes.Sum(), cpu, engineCpu, sampler.Peak, gateway.Rss(), failures);
            Console.WriteLine($"   {ScaleStreams:N0} streams for {wall:F1} s: {figures.Bytes / 1e9:F2} GB, {figures.Bytes / 1e6 / wall:F0} MB/s, gateway CPU {cpu:F1} s = {figures.CpuSecondsPerGb:F2} s/GB, RSS peak {Report.Bytes(figures.RssPeak)} ({failures} failed, {peakOpen} open at most)");
            return figures;
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }
}

/// <summary>The deployed run's switches: <c>--quick</c>, <c>--no-build</c>, <c>--only</c>, <c>--variant</c> (repeatable), <c>--rounds</c>, <c>--counters</c> (<c>--alloc</c>: with allocation ticks), <c>--with-proxies</c>.</summary>
internal sealed record DeployedOptions(bool Quick, bool Build, string? Only, IReadOnlyList<GatewayVariant> Variants, int? Rounds, bool Counters, bool WithProxies, bool AllocationTicks = false);

internal sealed record StreamMemoryFigures(string Path, long Idle, long AllOpen, long Peak, int PeakOpen, int Failures)
{
    /// <summary>RSS growth per 1,000 open streams, from idle to the peak, scaled by how many were open at most.</summary>
    public double PerThousand => PeakOpen > 0 ? (double)(Peak - Idle) * 1000 / PeakOpen : double.NaN;
}

internal sealed record SessionMemoryFigures(int Sessions, long Idle, long AfterCalls, long After, double Seconds, int Failures)
{
    /// <summary>Growth from the same number of calls on one session to as many calls each opening a session.</summary>
    public double PerTenThousand => (double)(After - AfterCalls) * 10_000 / Sessions;
}

internal sealed record ScaleFigures(
    int Engines, int Sessions, double SessionSeconds, int SessionFailures, long RssIdle, long RssAfterSessions,
    int Streams, int PeakOpen, double Seconds, long Bytes, double CpuSeconds, double EngineCpuSeconds, long RssPeak, long RssAfter, int Failures)
{
    public double CpuSecondsPerGb => Bytes > 0 ? CpuSeconds / (Bytes / 1e9) : double.NaN;
}
