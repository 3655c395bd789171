using System.Diagnostics;

namespace SparkConnect.Multiplexer.Benchmarks;

internal enum ScenarioKind
{
    Unary,
    Stream,
}

/// <summary>One measured workload.</summary>
internal sealed record Scenario(string Id, string Label, ScenarioKind Kind, int Concurrency, bool Analyze = false, int BatchBytes = 0, int Batches = 0);

/// <summary>Everything measured for one scenario on one path, summed over rounds.</summary>
internal sealed class Cell
{
    public List<long> Latencies { get; } = [];

    public long Calls { get; set; }

    public long Bytes { get; set; }

    public double Seconds { get; set; }

    public int Failures { get; set; }

    public double CallsPerSecond => Seconds > 0 ? Calls / Seconds : 0;

    public double MegabytesPerSecond => Seconds > 0 ? Bytes / Seconds / 1e6 : 0;

    public double PercentileMicroseconds(double p)
    {
        if (Latencies.Count == 0)
        {
            return 0;
        }

        Latencies.Sort();
        var index = (int)Math.Min(Latencies.Count - 1, Math.Ceiling(p * Latencies.Count) - 1);
        return Latencies[Math.Max(0, index)] * 1e6 / Stopwatch.Frequency;
    }
}

internal static class Measure
{
    public static async Task RunAsync(BenchPath path, Scenario scenario, TimeSpan duration, Cell cell)
    {
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var latencies = new List<long>[scenario.Concurrency];
        var bytes = new long[scenario.Concurrency];
        var failures = new int[scenario.Concurrency];
        var start = Stopwatch.GetTimestamp();
        var workers = new Task[scenario.Concurrency];
        for (var w = 0; w < workers.Length; w++)
        {
            var worker = w;
            workers[w] = Task.Run(async () =>
            {
                var mine = latencies[worker] = new List<long>(1024);
                var request = scenario.Kind == ScenarioKind.Stream
                    ? BenchRequests.Execute(SessionIds.Worker(worker))
                    : scenario.Analyze ? BenchRequests.Analyze(SessionIds.Worker(worker)) : BenchRequests.Config(SessionIds.Worker(worker));
                while (Stopwatch.GetTimestamp() < until)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        bytes[worker] += scenario.Kind == ScenarioKind.Stream
                            ? await path.Client.ExecuteAsync(request, scenario.Batches, scenario.BatchBytes)
                            : await path.Client.UnaryAsync(scenario.Analyze, request);
                        mine.Add(Stopwatch.GetTimestamp() - t0);
                    }
                    catch (Grpc.Core.RpcException) when (failures[worker] < 1000)
                    {
                        failures[worker]++;
                    }
                }
            });
        }

        await Task.WhenAll(workers);
        cell.Seconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
        foreach (var list in latencies)
        {
            cell.Latencies.AddRange(list);
            cell.Calls += list.Count;
        }

        cell.Bytes += bytes.Sum();
        cell.Failures += failures.Sum();
    }
}

/// <summary>Session ids: fixed per worker (so they are claimed once), fresh for the session and launch figures.</summary>
internal static class SessionIds
{
    private static readonly string[] Workers = Enumerable.Range(0, 256).Select(_ => Guid.NewGuid().ToString()).ToArray();

    public static string Worker(int index) => Workers[index];
}
