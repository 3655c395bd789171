using System.Collections.Concurrent;
using System.Net;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SparkConnect.Multiplexer.TestEngine;

/// <summary>
/// Scripts what the engine does for a call: write response messages with <c>write</c> (for unary methods the first
/// write is the response), wait, or throw an <see cref="RpcException"/>. When a script writes nothing, the default
/// response is sent.
/// </summary>
public delegate Task EngineScript(RecordedCall call, ServerCallContext context, Func<byte[], Task> write);

/// <summary>
/// A Spark Connect engine on real Kestrel (HTTP/2 cleartext, 127.0.0.1, free port) that records every call's raw
/// request bytes and metadata. It serves every released SparkConnectService method plus <c>FutureRpc</c> (a method no
/// Spark has yet, unary) and answers with minimal valid responses carrying the session id and the engine's name as
/// server_side_session_id.
/// </summary>
public sealed class RecordingEngine : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedCall> _calls = new();

    private RecordingEngine(string name, WebApplication app, Uri address)
    {
        Name = name;
        _app = app;
        Address = address;
    }

    /// <summary>The engine's name; its responses carry it as server_side_session_id.</summary>
    public string Name { get; }

    /// <summary>The engine's address.</summary>
    public Uri Address { get; }

    /// <summary>Every call received, in arrival order.</summary>
    public IReadOnlyList<RecordedCall> Calls => [.. _calls];

    /// <summary>Replaces the default behaviour for every method while set.</summary>
    public EngineScript? Script { get; set; }

    /// <summary>Starts an engine on a free port.</summary>
    public static Task<RecordingEngine> StartAsync(string name, CancellationToken cancellationToken = default)
        => StartAsync(name, 0, cancellationToken);

    /// <summary>Starts an engine on <paramref name="port"/> of 127.0.0.1 (0: a free port).</summary>
    public static Task<RecordingEngine> StartAsync(string name, int port, CancellationToken cancellationToken = default)
        => StartAsync(name, port, certificate: null, cancellationToken);

    /// <summary>Starts an engine on <paramref name="port"/> (0: a free one), serving TLS with <paramref name="certificate"/> when given.</summary>
    public static async Task<RecordingEngine> StartAsync(string name, int port, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, o =>
        {
            o.Protocols = HttpProtocols.Http2;
            if (certificate is not null)
            {
                o.UseHttps(certificate);
            }
        }));
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = null);
        builder.Services.AddSingleton<IServiceMethodProvider<RawSparkConnectService>, RawSparkConnectMethods>();
        builder.Services.AddSingleton<EngineHolder>();
        var app = builder.Build();
        app.MapGrpcService<RawSparkConnectService>();
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var engine = new RecordingEngine(name, app, new Uri(address));
        app.Services.GetRequiredService<EngineHolder>().Engine = engine;
        return engine;
    }

    /// <summary>The calls of one method.</summary>
    public IReadOnlyList<RecordedCall> CallsTo(string method) => [.. _calls.Where(c => c.Method == method)];

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }

    internal RecordedCall Record(string method, ServerCallContext context)
    {
        var call = new RecordedCall(method, context.RequestHeaders, context.Deadline);
        context.CancellationToken.Register(call.MarkCancelled);
        _calls.Enqueue(call);
        return call;
    }
}
