using System.Diagnostics;
using System.Runtime;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer;
using SparkConnect.Multiplexer.Benchmarks;

// dotnet run -c Release --project bench/SparkConnect.Multiplexer.Benchmarks [-- --quick] [--out <repo root>]
// Hostile load (issue 11), the gateway in its own process: ... -- --hostile [--out <repo root>] (docs/benchmarks-hostile.md)
// Redis:ShareLimits on against off (issue 14), one real redis-server: ... -- --redis-limits [--quick]
// As deployed (issue 17), every party its own process: ... -- --deployed [--quick] [--no-build] (docs/benchmarks-deployed.md)
//   gateway variants in the same interleaved rounds, ratios to the baseline gateway (nothing written):
//   ... -- --deployed --variant NAME:ENV=VALUE[,--Config:Key=Value][,exe=PATH] [--variant ...] [--rounds N] [--counters] [--alloc] [--with-proxies]
// The child processes of the hostile and deployed runs (ChildProcess): they bind port 0 and print the addresses they got.
if (args.Length == 2 && args[0] == "--serve-engine")
{
    return await ChildProcess.ServeEngineAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
}

if (args is ["--serve-gateway"])
{
    return await ChildProcess.ServeGatewayAsync();
}

if (args.Length == 2 && args[0] == "--serve-engines")
{
    return await ChildProcess.ServeEnginesAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
}

if (args.Length == 2 && args[0] == "--serve-yarp")
{
    return await ChildProcess.ServeYarpAsync(new Uri(args[1]));
}

// Profiling one scenario on the gateway path only, e.g. under dotnet-trace:
//   dotnet-trace collect -- bench/.../bin/Release/net10.0/SparkConnect.Multiplexer.Benchmarks --profile config-1 --seconds 20
var profileIndex = Array.IndexOf(args, "--profile");
var quick = args.Contains("--quick");
var outIndex = Array.IndexOf(args, "--out");
var repoRoot = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : FindRepoRoot();
if (args.Contains("--hostile"))
{
    return await Hostile.RunAsync(repoRoot);
}

// As deployed (issue 17): engine, gateway (the sample host's Release build), nginx and YARP each a process of its own.
if (args.Contains("--deployed"))
{
    var onlyIndex = Array.IndexOf(args, "--only");
    var roundsIndex = Array.IndexOf(args, "--rounds");
    var variants = new List<GatewayVariant>();
    for (var i = 0; i + 1 < args.Length; i++)
    {
        if (args[i] == "--variant")
        {
            var variant = GatewayVariant.Parse(args[i + 1], out var error);
            if (variant is null)
            {
                Console.Error.WriteLine(error);
                return 1;
            }

            variants.Add(variant);
        }
    }

    var options = new DeployedOptions(
        quick,
        !args.Contains("--no-build"),
        onlyIndex >= 0 && onlyIndex + 1 < args.Length ? args[onlyIndex + 1] : null,
        variants,
        roundsIndex >= 0 && roundsIndex + 1 < args.Length ? int.Parse(args[roundsIndex + 1], System.Globalization.CultureInfo.InvariantCulture) : null,
        args.Contains("--counters") || args.Contains("--alloc"),
        args.Contains("--with-proxies"),
        args.Contains("--alloc"));
    return await Deployed.RunAsync(options, repoRoot);
}

// Limits shared across replicas through Redis (issue 14): ... -- --redis-limits [--quick]
if (args.Contains("--redis-limits"))
{
    return await RedisLimits.RunAsync(quick);
}

var total = Stopwatch.StartNew();
var rounds = quick ? 1 : 3;
var unaryDuration = TimeSpan.FromSeconds(quick ? 0.3 : 1.2);
var streamDuration = TimeSpan.FromSeconds(quick ? 0.4 : 1.6);
var warmup = TimeSpan.FromSeconds(quick ? 0.1 : 0.3);
const int Mib4 = 4 * 1024 * 1024;
const int Kib64 = 64 * 1024;

Scenario[] scenarios =
[
    new("analyze-1", "AnalyzePlan, concurrency 1", ScenarioKind.Unary, 1, Analyze: true),
    new("analyze-64", "AnalyzePlan, concurrency 64", ScenarioKind.Unary, 64, Analyze: true),
    new("config-1", "Config, concurrency 1", ScenarioKind.Unary, 1),
    new("config-64", "Config, concurrency 64", ScenarioKind.Unary, 64),
    new("stream-4m-1", "ExecutePlan 4 MiB batches, 1 stream", ScenarioKind.Stream, 1, BatchBytes: Mib4, Batches: 8),
    new("stream-4m-16", "ExecutePlan 4 MiB batches, 16 streams", ScenarioKind.Stream, 16, BatchBytes: Mib4, Batches: 8),
    new("stream-64k-1", "ExecutePlan 64 KiB batches, 1 stream", ScenarioKind.Stream, 1, BatchBytes: Kib64, Batches: 256),
    new("stream-64k-16", "ExecutePlan 64 KiB batches, 16 streams", ScenarioKind.Stream, 16, BatchBytes: Kib64, Batches: 256),
];

if (profileIndex >= 0 && profileIndex + 1 < args.Length)
{
    var scenario = scenarios.Single(s => s.Id == args[profileIndex + 1]);
    var secondsIndex = Array.IndexOf(args, "--seconds");
    var seconds = secondsIndex >= 0 ? double.Parse(args[secondsIndex + 1], System.Globalization.CultureInfo.InvariantCulture) : 20;
    await using var profiledEngine = await SyntheticEngine.StartAsync([Mib4, Kib64]);
    var pathIndex = Array.IndexOf(args, "--path");
    await using var profiled = (pathIndex >= 0 ? args[pathIndex + 1] : "gateway") switch
    {
        "direct" => Hosts.Direct(profiledEngine),
        "yarp" => await Hosts.YarpAsync(profiledEngine.Address),
        "proto-current" => await Hosts.PrototypeAsync(profiledEngine.Address, "proto-current", RelayVariant.Current),
        _ => await Hosts.GatewayAsync(profiledEngine.Address),
    };
    await Measure.RunAsync(profiled, scenario, TimeSpan.FromSeconds(1), new Cell());
    var cell = new Cell();
    var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
    await Measure.RunAsync(profiled, scenario, TimeSpan.FromSeconds(seconds), cell);
    var allocatedPerCall = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / Math.Max(1, cell.Calls);
    Console.WriteLine($"{scenario.Label} through {profiled.Name} for {seconds} s: {cell.CallsPerSecond:F0} calls/s, p50 {cell.PercentileMicroseconds(0.5):F1} µs, {cell.MegabytesPerSecond:F0} MB/s, {allocatedPerCall} B allocated per call (whole process)");
    return 0;
}

Console.WriteLine($"SparkConnect.Multiplexer benchmarks ({(quick ? "quick" : "full")}), {Environment.ProcessorCount} cores, .NET {Environment.Version}, Server GC {GCSettings.IsServerGC}");
await using var engine = await SyntheticEngine.StartAsync([Mib4, Kib64]);
var paths = new List<BenchPath> { Hosts.Direct(engine), await Hosts.GatewayAsync(engine.Address) };
var (nginx, nginxSkipped) = await Hosts.NginxAsync(engine.Address);
if (nginx is not null)
{
    paths.Add(nginx);
}
else
{
    Console.WriteLine($"nginx skipped: {nginxSkipped}");
}

paths.Add(await Hosts.YarpAsync(engine.Address));
paths.Add(await Hosts.PrototypeAsync(engine.Address, "proto-current", RelayVariant.Current));
paths.Add(await Hosts.PrototypeAsync(engine.Address, "proto-relay", RelayVariant.Proposed));
var report = new Report(quick, scenarios, paths.Select(p => p.Name).ToList(), nginxSkipped, Hosts.NginxVersionText);

try
{
    Console.WriteLine("warm-up ...");
    foreach (var path in paths)
    {
        foreach (var scenario in scenarios)
        {
            await Measure.RunAsync(path, scenario, warmup, new Cell());
        }
    }

    for (var round = 0; round < rounds; round++)
    {
        Console.WriteLine($"round {round + 1}/{rounds} ({total.Elapsed.TotalSeconds:F0} s)");
        foreach (var scenario in scenarios)
        {
            // Interleaved: every path runs each scenario in every round, starting with a different path each round.
            for (var i = 0; i < paths.Count; i++)
            {
                var path = paths[(i + round) % paths.Count];
                await Measure.RunAsync(path, scenario, scenario.Kind == ScenarioKind.Stream ? streamDuration : unaryDuration, report.Cell(scenario.Id, path.Name));
            }
        }
    }

    Console.WriteLine($"allocations ({total.Elapsed.TotalSeconds:F0} s)");
    foreach (var path in paths.Where(p => p.Name != "nginx"))
    {
        report.Allocations[path.Name] = await Allocations.MeasureAsync(path, quick);
    }

    Console.WriteLine($"idle sessions ({total.Elapsed.TotalSeconds:F0} s)");
    report.Sessions.AddRange(await SessionMemory.MeasureAsync(engine.Address, quick ? [10_000] : [10_000, 100_000]));

    Console.WriteLine($"launch path ({total.Elapsed.TotalSeconds:F0} s)");
    report.Launch = await LaunchPath.MeasureAsync(quick ? 1 : 3);
}
finally
{
    foreach (var path in paths)
    {
        await path.DisposeAsync();
    }
}

report.Elapsed = total.Elapsed;
var markdown = report.Render(Console.Out);
if (repoRoot is not null)
{
    var docs = Path.Combine(repoRoot, "docs");
    Directory.CreateDirectory(docs);
    await File.WriteAllTextAsync(Path.Combine(docs, "benchmarks.md"), markdown);
    var chart = await Chart.WriteAsync(report, Path.Combine(docs, "benchmarks.png"));
    Console.WriteLine($"wrote {Path.Combine(docs, "benchmarks.md")} and {Path.Combine(docs, "benchmarks.png")} ({chart})");
}

Console.WriteLine($"done in {total.Elapsed.TotalSeconds:F0} s");
return 0;

static string? FindRepoRoot()
{
    for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "SparkConnect.Multiplexer.sln")))
        {
            return dir.FullName;
        }
    }

    return null;
}
