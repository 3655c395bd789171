using System.Net;
using System.Net.Http.Headers;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Management;

/// <summary>
/// A real gateway with its management endpoint, as a host would serve it: Spark Connect on one loopback port
/// (HTTP/2 cleartext), management on another (HTTP/1.1), both chosen by the kernel (port 0). Alice (token <see cref="GatewayHost.AliceToken"/>) is an
/// administrator, Bob is not; the default engine is a recording engine.
/// </summary>
internal sealed class ManagementHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ManagementHost(WebApplication app, Uri grpc, Uri management, CapturingLoggerProvider logs)
    {
        _app = app;
        Logs = logs;
        ManagementAddress = management;
        Channel = GrpcChannel.ForAddress(grpc);
        Client = new SparkConnectService.SparkConnectServiceClient(Channel);
        Http = new HttpClient { BaseAddress = management, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri ManagementAddress { get; }

    public GrpcChannel Channel { get; }

    public SparkConnectService.SparkConnectServiceClient Client { get; }

    public HttpClient Http { get; }

    public CapturingLoggerProvider Logs { get; }

    public IServiceProvider Services => _app.Services;

    public WebApplication App => _app;

    public static async Task<ManagementHost> StartAsync(RecordingEngine engine, Action<SparkConnectGatewayOptions>? configure = null)
    {
        ListenOptions? grpc = null;
        ListenOptions? management = null;
        var builder = WebApplication.CreateSlimBuilder();
        var logs = new CapturingLoggerProvider();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Information);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0, o => (grpc = o).Protocols = HttpProtocols.Http2);
            k.Listen(IPAddress.Loopback, 0, o => (management = o).Protocols = HttpProtocols.Http1);
        });
        builder.Services.AddSparkConnectGateway(o =>
        {
            o.Health.ProbeInterval = TimeSpan.Zero;
            o.DrainTimeout = TimeSpan.FromSeconds(1);
            o.Engines.Default = new StaticEngineOptions { Address = engine.Address.ToString() };
            o.Authentication.Tokens.Add(new StaticTokenOptions { Token = GatewayHost.AliceToken, User = "alice" });
            o.Authentication.Tokens.Add(new StaticTokenOptions { Token = GatewayHost.BobToken, User = "bob" });
            o.Admin.Users.Add("alice");
            configure?.Invoke(o);
        }).AddManagement();
        var app = builder.Build();

        // A host pins each to its port with RequireHost("*:port"), which needs the numbers before the app is built;
        // here the ports are known only once Kestrel has bound them. The two stay apart by protocol instead: the
        // gateway needs HTTP/2, which only its port speaks, and the tests reach management over HTTP/1.1 on the other.
        app.MapSparkConnectGateway();
        app.MapSparkConnectGatewayManagement();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        // Kestrel puts the bound address (the kernel's port) into each endpoint's options, so each keeps its role.
        return new ManagementHost(app, new Uri($"http://127.0.0.1:{grpc!.IPEndPoint!.Port}"), new Uri($"http://127.0.0.1:{management!.IPEndPoint!.Port}"), logs);
    }

    /// <summary>An admin API request with a bearer token (none when <paramref name="token"/> is null).</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? token, HttpContent? content = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await Http.SendAsync(request, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Channel.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }
}
