using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SparkConnect.Multiplexer.LocalEngine.Internal;
using SparkConnect.Multiplexer.LocalEngine.Service;

namespace SparkConnect.Multiplexer.LocalEngine;

/// <summary>
/// A running local Spark Connect engine: Kestrel on 127.0.0.1 (HTTP/2 cleartext) serving
/// <c>spark.connect.SparkConnectService</c> over one DuckDB database. Dispose it to stop it.
/// </summary>
public sealed class LocalSparkConnectEngine : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly EngineState _state;
    private readonly ILogger _logger;
    private int _disposed;

    private LocalSparkConnectEngine(WebApplication app, EngineState state, Uri address, ILogger logger)
    {
        _app = app;
        _state = state;
        Address = address;
        _logger = logger;
    }

    /// <summary>The engine's address, e.g. <c>http://127.0.0.1:15003/</c>.</summary>
    public Uri Address { get; }

    /// <summary>
    /// Starts an engine on the given address, asking every call for the access token when one is set; without
    /// <paramref name="listen"/>, on 127.0.0.1 at a free port, asking for no credential (for tests and trials on one machine).
    /// </summary>
    /// <param name="options">The engine settings; invalid settings throw <see cref="ArgumentException"/> listing every problem.</param>
    /// <param name="listen">Address, port and access token; an address beyond loopback without a token throws <see cref="ArgumentException"/>.</param>
    /// <param name="loggerFactory">Where the engine logs; none by default.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running engine.</returns>
    public static Task<LocalSparkConnectEngine> StartAsync(LocalEngineOptions options, LocalEngineListenOptions? listen = null, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
        => StartCoreAsync(options, listen ?? new LocalEngineListenOptions(), dataDirectory: null, loggerFactory, cancellationToken);

    /// <summary>Starts an engine; <paramref name="dataDirectory"/> replaces <see cref="LocalEngineOptions.DataDirectory"/> (the locator gives each engine its own).</summary>
    internal static async Task<LocalSparkConnectEngine> StartCoreAsync(LocalEngineOptions options, LocalEngineListenOptions listen, string? dataDirectory, ILoggerFactory? loggerFactory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(listen);
        var errors = options.Validate().Concat(listen.Validate()).ToList();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid local engine options:" + Environment.NewLine + string.Join(Environment.NewLine, errors), nameof(options));
        }

        loggerFactory ??= NullLoggerFactory.Instance;
        var state = new EngineState(options, dataDirectory);
        try
        {
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(LocalSparkConnectEngine).Assembly.GetName().Name });
            builder.Logging.ClearProviders();
            builder.Services.AddSingleton(loggerFactory);
            builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
            builder.Services.AddSingleton(state);
            builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, Hosting.EmbeddedHostLifetime>();
            builder.Services.AddGrpc(grpc =>
            {
                grpc.MaxReceiveMessageSize = options.MaxMessageSize;
                grpc.MaxSendMessageSize = options.MaxMessageSize;
            });
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(listen.Address, listen.Port, endpoint => endpoint.Protocols = HttpProtocols.Http2));
            var app = builder.Build();
            if (listen.AccessToken is { } accessToken)
            {
                app.Use(EngineAuthentication.Require(accessToken));
            }

            app.MapGrpcService<SparkConnectEngineService>();
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            var logger = loggerFactory.CreateLogger<LocalSparkConnectEngine>();
            EngineLog.EngineStarted(logger, address, state.DatabaseDescription, listen.AccessToken is null ? "none (loopback only)" : "access token", state.DataDirectory);
            return new LocalSparkConnectEngine(app, state, address, logger);
        }
        catch
        {
            await state.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops Kestrel, cancels running queries and closes the database.</summary>
    /// <returns>A task that completes when the engine has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        }

        await _state.DisposeAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        EngineLog.EngineStopped(_logger, Address);
    }
}
