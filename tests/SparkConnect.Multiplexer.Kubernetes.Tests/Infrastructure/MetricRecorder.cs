using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Kubernetes.Internal;

namespace SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;

/// <summary>
/// Records what one gateway's <c>SparkConnect.Multiplexer.Kubernetes</c> meter measures. Only the meter made by that
/// host's <see cref="IMeterFactory"/> is listened to, so the gateways of test classes running in parallel do not mix.
/// </summary>
internal sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener;
    private readonly List<Recorded> _recorded = [];

    public MetricRecorder(IServiceProvider services)
    {
        var scope = services.GetRequiredService<IMeterFactory>().Create(KubernetesMetrics.MeterName).Scope;
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == KubernetesMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, scope))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The measurements of <paramref name="instrument"/> whose tags include every one of <paramref name="tags"/>.</summary>
    public IReadOnlyList<Recorded> Of(string instrument, params (string Name, string Value)[] tags)
    {
        lock (_recorded)
        {
            return [.. _recorded.Where(r => r.Instrument == instrument && tags.All(t => r.Tag(t.Name) == t.Value))];
        }
    }

    /// <summary>The sum of a counter's matching measurements.</summary>
    public long Count(string instrument, params (string Name, string Value)[] tags) => (long)Of(instrument, tags).Sum(r => r.Value);

    /// <summary>Calls the observable instruments now and returns what <paramref name="instrument"/> reported, per namespace.</summary>
    public IReadOnlyDictionary<string, double> Observe(string instrument)
    {
        int from;
        lock (_recorded)
        {
            from = _recorded.Count;
        }

        _listener.RecordObservableInstruments();
        lock (_recorded)
        {
            return _recorded.Skip(from).Where(r => r.Instrument == instrument).ToDictionary(r => r.Tag(KubernetesMetrics.NamespaceTag) ?? "", r => r.Value);
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var recorded = new Recorded(instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value));
        lock (_recorded)
        {
            _recorded.Add(recorded);
        }
    }

    public sealed record Recorded(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags)
    {
        public string? Tag(string name) => Tags.GetValueOrDefault(name) as string;
    }
}
