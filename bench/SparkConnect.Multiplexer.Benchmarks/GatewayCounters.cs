using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace SparkConnect.Multiplexer.Benchmarks;

/// <summary>
/// What a gateway process did during the measurement windows of one scenario (deployed mode, <c>--counters</c>),
/// summed over rounds: GC collections and pauses and lock contention from the runtime's events, thread-pool work
/// items and queue length from the <c>System.Runtime</c> counters, context switches and user/system CPU from /proc.
/// </summary>
internal sealed class CounterFigures
{
    public double Seconds { get; set; }

    public int[] Collections { get; } = new int[3];

    /// <summary>Collections by the runtime's reason (AllocSmall, AllocLarge, Induced, ...): a gen2 for AllocLarge means the LOH budget ran out.</summary>
    public Dictionary<string, int> Reasons { get; } = new(StringComparer.Ordinal);

    /// <summary>With allocation ticks on: sampled bytes (one tick per ~100 KB) by kind and type, e.g. <c>Large byte[]</c>.</summary>
    public Dictionary<string, long> AllocatedByType { get; } = new(StringComparer.Ordinal);

    public int Pauses { get; set; }

    public double PauseMilliseconds { get; set; }

    public double MaxPauseMilliseconds { get; set; }

    public long Contentions { get; set; }

    public double ContentionMilliseconds { get; set; }

    /// <summary>Thread-pool work items completed per second, from the counter's increments over the intervals reported.</summary>
    public double WorkItemsPerSecond => _counterSeconds > 0 ? _workItems / _counterSeconds : double.NaN;

    public double QueueLengthMean => _queueSamples > 0 ? _queueLength / _queueSamples : double.NaN;

    public double QueueLengthMax { get; set; }

    public double ThreadPoolThreadsMax { get; set; }

    public long ContextSwitches { get; set; }

    public double UserSeconds { get; set; }

    public double SystemSeconds { get; set; }

    private double _workItems;
    private double _counterSeconds;
    private double _queueLength;
    private int _queueSamples;

    public void AddWorkItems(double increment, double intervalSeconds)
    {
        _workItems += increment;
        _counterSeconds += intervalSeconds;
    }

    public void AddQueueLength(double mean, double max)
    {
        _queueLength += mean;
        _queueSamples++;
        QueueLengthMax = Math.Max(QueueLengthMax, max);
    }
}

/// <summary>
/// An EventPipe session on one gateway process for one measurement window — what <c>dotnet-counters</c> and
/// <c>dotnet-trace</c> open, through the runtime's diagnostic socket — with the GC (Informational: suspensions, not
/// allocation ticks) and contention keywords and the <c>System.Runtime</c> counters every half second. No rundown, so
/// stopping it costs the gateway nothing noticeable; every variant pays the same.
/// </summary>
internal sealed class CounterSession
{
    private const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime";
    private readonly int _pid;
    private readonly EventPipeSession _session;
    private readonly CounterFigures _figures;
    private readonly Task _processing;
    private readonly (double User, double System, long Switches) _start;
    private readonly long _startTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
    private double _suspendedAt = double.NaN;

    private CounterSession(int pid, EventPipeSession session, CounterFigures figures)
    {
        _pid = pid;
        _session = session;
        _figures = figures;
        _start = ProcFigures(pid);
        var source = new EventPipeEventSource(session.EventStream);
        source.Clr.GCStart += OnGcStart;
        source.Clr.GCSuspendEEStart += e => _suspendedAt = e.TimeStampRelativeMSec;
        source.Clr.GCRestartEEStop += OnRestart;
        source.Clr.ContentionStop += OnContentionStop;
        source.Clr.GCAllocationTick += e =>
        {
            var key = $"{e.AllocationKind} {e.TypeName}";
            _figures.AllocatedByType[key] = _figures.AllocatedByType.GetValueOrDefault(key) + e.AllocationAmount64;
        };
        source.Dynamic.All += OnDynamic;
        _processing = Task.Run(() => source.Process());
    }

    /// <summary>Starts a session on <paramref name="pid"/>; the events count into <paramref name="figures"/>.</summary>
    public static async Task<CounterSession> StartAsync(int pid, CounterFigures figures, bool allocationTicks, CancellationToken cancellationToken = default)
    {
        var client = new DiagnosticsClient(pid);
        EventPipeProvider[] providers =
        [
            // Verbose adds GCAllocationTick: which types fill the heaps (costs the gateway a little more).
            new(RuntimeProvider, allocationTicks ? EventLevel.Verbose : EventLevel.Informational, (long)(ClrTraceEventParser.Keywords.GC | ClrTraceEventParser.Keywords.Contention)),
            new("System.Runtime", EventLevel.Informational, 0, new Dictionary<string, string> { ["EventCounterIntervalSec"] = "0.5" }),
        ];
        var session = await client.StartEventPipeSessionAsync(providers, requestRundown: false, circularBufferMB: 64, cancellationToken);
        return new CounterSession(pid, session, figures);
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        var (user, system, switches) = ProcFigures(_pid);
        _figures.Seconds += System.Diagnostics.Stopwatch.GetElapsedTime(_startTimestamp).TotalSeconds;
        _figures.UserSeconds += user - _start.User;
        _figures.SystemSeconds += system - _start.System;
        _figures.ContextSwitches += switches - _start.Switches;
        await _session.StopAsync(cancellationToken);
        await _processing;
        _session.Dispose();
    }

    private void OnGcStart(GCStartTraceData e)
    {
        if (e.Depth is >= 0 and <= 2)
        {
            _figures.Collections[e.Depth]++;
        }

        var reason = $"gen{e.Depth} {e.Reason}";
        _figures.Reasons[reason] = _figures.Reasons.GetValueOrDefault(reason) + 1;
    }

    private void OnRestart(GCNoUserDataTraceData e)
    {
        if (double.IsNaN(_suspendedAt))
        {
            return;
        }

        var pause = e.TimeStampRelativeMSec - _suspendedAt;
        _suspendedAt = double.NaN;
        _figures.Pauses++;
        _figures.PauseMilliseconds += pause;
        _figures.MaxPauseMilliseconds = Math.Max(_figures.MaxPauseMilliseconds, pause);
    }

    private void OnContentionStop(ContentionStopTraceData e)
    {
        _figures.Contentions++;
        _figures.ContentionMilliseconds += e.DurationNs / 1e6;
    }

    /// <summary>EventCounters arrive as an <c>EventCounters</c> event whose payload names the counter.</summary>
    private void OnDynamic(TraceEvent e)
    {
        if (e.EventName != "EventCounters" || e.PayloadValue(0) is not IDictionary<string, object> outer || outer.TryGetValue("Payload", out var inner) is false || inner is not IDictionary<string, object> payload)
        {
            return;
        }

        var name = payload.TryGetValue("Name", out var n) ? n as string : null;
        double Field(string key) => payload.TryGetValue(key, out var v) ? Convert.ToDouble(v, CultureInfo.InvariantCulture) : double.NaN;
        switch (name)
        {
            case "threadpool-completed-items-count":
                _figures.AddWorkItems(Field("Increment"), Field("IntervalSec"));
                break;
            case "threadpool-queue-length":
                _figures.AddQueueLength(Field("Mean"), Field("Max"));
                break;
            case "threadpool-thread-count":
                _figures.ThreadPoolThreadsMax = Math.Max(_figures.ThreadPoolThreadsMax, Field("Max"));
                break;
        }
    }

    /// <summary>User and system CPU seconds of the process, and the context switches of all its threads (/proc).</summary>
    private static (double User, double System, long Switches) ProcFigures(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var user = long.Parse(fields[11], CultureInfo.InvariantCulture) / 100.0;
            var system = long.Parse(fields[12], CultureInfo.InvariantCulture) / 100.0;
            long switches = 0;
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                    {
                        if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                        {
                            switches += long.Parse(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim(), CultureInfo.InvariantCulture);
                        }
                    }
                }
                catch (IOException)
                {
                    // The thread ended while being read.
                }
            }

            return (user, system, switches);
        }
        catch (IOException)
        {
            return (0, 0, 0);
        }
    }
}
