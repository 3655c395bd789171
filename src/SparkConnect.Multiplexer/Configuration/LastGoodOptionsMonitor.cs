using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using SparkConnect.Multiplexer.Internal;

namespace SparkConnect.Multiplexer.Configuration;

/// <summary>
/// An <see cref="IOptionsMonitor{TOptions}"/> that keeps the last configuration that passed validation: a reload that
/// fails (a bad CIDR, a misspelt key) is logged, every problem, and not applied, instead of making every later read —
/// and so every call — throw. At start-up nothing is good yet, so invalid options still stop the host.
/// </summary>
internal sealed class LastGoodOptionsMonitor<TOptions> : IOptionsMonitor<TOptions>, IDisposable
    where TOptions : class
{
    private readonly IOptionsFactory<TOptions> _factory;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, TOptions> _good = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IReadOnlyList<string>> _rejected = new(StringComparer.Ordinal);
    private readonly List<IDisposable> _registrations = [];
    private event Action<TOptions, string?>? Changed;

    public LastGoodOptionsMonitor(IOptionsFactory<TOptions> factory, IEnumerable<IOptionsChangeTokenSource<TOptions>> sources, ILogger<LastGoodOptionsMonitor<TOptions>> logger)
    {
        _factory = factory;
        _logger = logger;
        foreach (var source in sources)
        {
            _registrations.Add(ChangeToken.OnChange(source.GetChangeToken, Reload, source.Name ?? Options.DefaultName));
        }
    }

    public TOptions CurrentValue => Get(Options.DefaultName);

    /// <summary>The problems of the last reload that was refused, by options name; empty once a good one loads.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Rejected => _rejected;

    public TOptions Get(string? name) => _good.GetOrAdd(name ?? Options.DefaultName, _factory.Create);

    public IDisposable? OnChange(Action<TOptions, string?> listener)
    {
        Changed += listener;
        return new Unsubscribe(() => Changed -= listener);
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }

    private void Reload(string name)
    {
        TOptions options;
        try
        {
            options = _factory.Create(name);
        }
        catch (Exception e) when (e is OptionsValidationException or InvalidOperationException)
        {
            var problems = e is OptionsValidationException invalid ? [.. invalid.Failures] : new List<string> { e.Message };

            // One edit often raises several change notifications: the same problems are logged once.
            if (_rejected.TryGetValue(name, out var previous) && previous.SequenceEqual(problems, StringComparer.Ordinal))
            {
                return;
            }

            _rejected[name] = problems;
            ConfigurationLog.ReloadRefused(_logger, typeof(TOptions).Name, problems.Count);
            foreach (var problem in problems)
            {
                ConfigurationLog.ReloadProblem(_logger, problem);
            }

            return;
        }

        _good[name] = options;
        if (_rejected.TryRemove(name, out _))
        {
            ConfigurationLog.ReloadAccepted(_logger, typeof(TOptions).Name);
        }

        Changed?.Invoke(options, name);
    }

    private sealed class Unsubscribe(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
