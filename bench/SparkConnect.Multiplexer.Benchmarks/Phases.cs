using System.Diagnostics;
using System.Runtime;
using Microsoft.Extensions.DependencyInjection;

namespace SparkConnect.Multiplexer.Benchmarks;

/// <summary>Bytes allocated in this process (client + path + engine) for a fixed workload; the path's own share is the difference to direct.</summary>
internal sealed record AllocationFigures(double PerUnaryCall, double PerMiB4MiBBatches, double PerMessage4MiB, double PerMiB64KiBBatches, double PerMessage64KiB);

internal static class Allocations
{
    public static async Task<AllocationFigures> MeasureAsync(BenchPath path, bool quick)
    {
        var calls = quick ? 500 : 2000;
        var request = BenchRequests.Config(SessionIds.Worker(0));
        for (var i = 0; i < 200; i++)
        {
            await path.Client.UnaryAsync(false, request);
        }

        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < calls; i++)
        {
            await path.Client.UnaryAsync(false, request);
        }

        var perCall = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)calls;
        var (perMiB4, perMessage4) = await StreamAsync(path, 4 * 1024 * 1024, 16, quick ? 2 : 4);
        var (perMiB64, perMessage64) = await StreamAsync(path, 64 * 1024, 1024, quick ? 2 : 4);
        return new AllocationFigures(perCall, perMiB4, perMessage4, perMiB64, perMessage64);
    }

    private static async Task<(double PerMiB, double PerMessage)> StreamAsync(BenchPath path, int batchBytes, int batches, int calls)
    {
        var request = BenchRequests.Execute(SessionIds.Worker(0));
        await path.Client.ExecuteAsync(request, batches, batchBytes);
        var before = GC.GetTotalAllocatedBytes(precise: true);
        long bytes = 0;
        for (var i = 0; i < calls; i++)
        {
            bytes += await path.Client.ExecuteAsync(request, batches, batchBytes);
        }

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        return (allocated / (bytes / 1048576.0), allocated / (double)((batches + 1) * calls));
    }
}

/// <summary>Gateway memory with many idle sessions.</summary>
internal sealed record SessionFigures(int Sessions, long StoredSessions, long HeapBytes, long HeapDelta, long WorkingSet, long WorkingSetDelta)
{
    public double HeapPerSession => HeapDelta / (double)Sessions;

    public double WorkingSetPerSession => WorkingSetDelta / (double)Sessions;
}

internal static class SessionMemory
{
    /// <summary>
    /// A fresh gateway (same process, same engine); each session is opened by one Config call with a new session id
    /// and then left idle. Measured after a full blocking compacting GC: the managed heap (GC.GetTotalMemory) and the
    /// process working set, against the same figures before the first session. Client and engine keep nothing per
    /// session, so the heap delta is the gateway's: session store entry, routing and limit structures.
    /// </summary>
    public static async Task<List<SessionFigures>> MeasureAsync(Uri engine, int[] counts)
    {
        var results = new List<SessionFigures>();
        await using var gateway = await Hosts.GatewayAsync(engine, "gateway-sessions");
        var store = gateway.Services!.GetRequiredService<ISessionStore>();
        await gateway.Client.UnaryAsync(false, BenchRequests.Config(Guid.NewGuid().ToString()));
        var (heap0, ws0) = Settle();
        var opened = 1;
        foreach (var count in counts)
        {
            var next = 0;
            var target = count - opened;
            var workers = Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
            {
                while (Interlocked.Increment(ref next) <= target)
                {
                    await gateway.Client.UnaryAsync(false, BenchRequests.Config(Guid.NewGuid().ToString()));
                }
            }));
            await Task.WhenAll(workers);
            opened = count;
            long stored = 0;
            await foreach (var _ in store.ListAsync(CancellationToken.None))
            {
                stored++;
            }

            var (heap, ws) = Settle();
            results.Add(new SessionFigures(count, stored, heap, heap - heap0, ws, ws - ws0));
            Console.WriteLine($"  {count:N0} sessions: heap +{(heap - heap0) / (double)count:F0} B/session, working set +{(ws - ws0) / (double)count:F0} B/session");
        }

        return results;
    }

    private static (long Heap, long WorkingSet) Settle()
    {
        for (var i = 0; i < 3; i++)
        {
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        var heap = GC.GetTotalMemory(forceFullCollection: true);
        using var process = Process.GetCurrentProcess();
        return (heap, process.WorkingSet64);
    }
}

/// <summary>First call to first response for a new engine key, with the embedded local engine (DuckDB).</summary>
internal sealed record LaunchFigures(List<double> FirstCallMs, List<double> WarmCallMs, string? Failure);

internal static class LaunchPath
{
    public static async Task<LaunchFigures> MeasureAsync(int launches)
    {
        var first = new List<double>();
        var warm = new List<double>();
        try
        {
            await using var gateway = await Hosts.GatewayAsync(new Uri("http://unused"), "gateway-local", g => g.AddLocalEngines());
            for (var i = 0; i < launches; i++)
            {
                using var client = new BenchClient(gateway.Address, Hosts.LaunchToken(i));

                // Each user is a new engine key (USER share level): the call waits for an engine to start.
                var start = Stopwatch.GetTimestamp();
                await client.UnaryAsync(true, BenchRequests.Analyze(Guid.NewGuid().ToString()));
                first.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                start = Stopwatch.GetTimestamp();
                await client.UnaryAsync(true, BenchRequests.Analyze(Guid.NewGuid().ToString()));
                warm.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                Console.WriteLine($"  engine key launch{i}: first response {first[^1]:F0} ms, next new session {warm[^1]:F1} ms");
            }

            return new LaunchFigures(first, warm, null);
        }
        catch (Exception e) when (e is Grpc.Core.RpcException or InvalidOperationException or Microsoft.Extensions.Options.OptionsValidationException)
        {
            Console.WriteLine($"  launch path failed: {e.Message}");
            return new LaunchFigures(first, warm, e.Message);
        }
    }
}
