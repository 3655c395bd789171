using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.LocalEngine.Hosting;

/// <summary>
/// Starts one embedded engine per engine key on first use (single flight: concurrent first requests share one
/// start) and stops them all when the host disposes it.
/// </summary>
internal sealed class LocalEngineLocator : IEngineLocator, IAsyncDisposable
{
    private readonly ConcurrentDictionary<EngineKey, Lazy<Task<(string Id, LocalSparkConnectEngine Engine)>>> _engines = new();
    private readonly IOptions<LocalEngineOptions> _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();

    public LocalEngineLocator(IOptions<LocalEngineOptions> options, ILoggerFactory loggerFactory)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<LocalEngineLocator>();
    }

    public async ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        var lazy = _engines.GetOrAdd(request.Key, key => new Lazy<Task<(string, LocalSparkConnectEngine)>>(() => StartAsync(key)));
        try
        {
            // One caller giving up must not cancel the start the others wait for.
            var (id, engine) = await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            return new EngineEndpoint(id, engine.Address);
        }
        catch (Exception) when (lazy.IsValueCreated && lazy.Value.IsFaulted)
        {
            // A failed start is forgotten so that the next request tries again.
            _engines.TryRemove(new KeyValuePair<EngineKey, Lazy<Task<(string, LocalSparkConnectEngine)>>>(request.Key, lazy));
            throw;
        }
    }

    private async Task<(string Id, LocalSparkConnectEngine Engine)> StartAsync(EngineKey key)
    {
        var engine = await LocalSparkConnectEngine.StartAsync(_options.Value, 0, _loggerFactory, _stopping.Token).ConfigureAwait(false);
        var id = $"local:{key}:{Guid.NewGuid().ToString("N")[..8]}";
        EngineLog.LocatorStarted(_logger, id, key.ToString(), engine.Address);
        return (id, engine);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var lazy in _engines.Values)
        {
            if (!lazy.IsValueCreated)
            {
                continue;
            }

            try
            {
                var (_, engine) = await lazy.Value.ConfigureAwait(false);
                await engine.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception error) when (error is not OutOfMemoryException)
            {
                EngineLog.LocatorStopFailed(_logger, "?", error);
            }
        }

        _engines.Clear();
        _stopping.Dispose();
    }
}

/// <summary>Stops the embedded engines when the host stops (before the container disposes the locator).</summary>
internal sealed class LocalEngineShutdown(IEngineLocator locator) : Microsoft.Extensions.Hosting.IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (locator is LocalEngineLocator local)
        {
            await local.DisposeAsync().AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>Validates <see cref="LocalEngineOptions"/> at host start, reporting every problem at once.</summary>
internal sealed class LocalEngineOptionsValidator : IValidateOptions<LocalEngineOptions>
{
    public ValidateOptionsResult Validate(string? name, LocalEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
