using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace SparkConnect.Multiplexer.Processes.Internal;

/// <summary>
/// The process launcher's instruments, on one <see cref="Meter"/> named after the package. The instruments keep the
/// names they had when the launcher was part of the core (<c>spark_connect.gateway.engines.*</c>), so dashboards and
/// alerts written against them go on working.
/// </summary>
internal sealed class ProcessEngineMetrics
{
    public const string MeterName = "SparkConnect.Multiplexer.Processes";

    private readonly Counter<long> _launched;
    private readonly Histogram<double> _launchDuration;
    private readonly UpDownCounter<long> _running;
    private readonly Counter<long> _stopped;

    public ProcessEngineMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _launched = meter.CreateCounter<long>("spark_connect.gateway.engines.launched", "{engine}", "Engine launches, by outcome (ready, failed, timeout, exited, refused; a refusal also by limit: user_limit, total_limit).");
        _launchDuration = meter.CreateHistogram<double>("spark_connect.gateway.engine.launch.duration", "s", "Time from an engine launch request until it was ready or failed, by outcome.");
        _running = meter.CreateUpDownCounter<long>("spark_connect.gateway.engines.running", "{engine}", "Engine processes this gateway runs, starting and adopted ones included.");
        _stopped = meter.CreateCounter<long>("spark_connect.gateway.engines.stopped", "{engine}", "Launched engines that ended or left this gateway, by reason (idle, lifetime, exited, lost, admin, shutdown, handed_over).");
    }

    public void LaunchEnded(string outcome, long startTimestamp)
    {
        var tag = new KeyValuePair<string, object?>("outcome", outcome);
        _launched.Add(1, tag);
        _launchDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tag);
    }

    /// <summary>A launch refused at a cap: <paramref name="limit"/> is user_limit or total_limit.</summary>
    public void LaunchRefused(string limit)
        => _launched.Add(1, new KeyValuePair<string, object?>("outcome", "refused"), new KeyValuePair<string, object?>("limit", limit));

    /// <summary>An engine process started here, or adopted from a gateway that stopped.</summary>
    public void ProcessStarted() => _running.Add(1);

    public void ProcessEnded(string reason)
    {
        _running.Add(-1);
        _stopped.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }
}
