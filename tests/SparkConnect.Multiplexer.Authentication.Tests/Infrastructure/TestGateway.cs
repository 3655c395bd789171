using System.Net;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Spark.Connect;
using SparkConnect.Multiplexer.TestEngine;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Authentication.Tests.Infrastructure;

/// <summary>What a test gateway is built with.</summary>
internal sealed class TestGatewayOptions
{
    /// <summary>Adds authenticators (the package's extension methods).</summary>
    public Action<ISparkConnectGatewayBuilder>? Gateway { get; init; }

    /// <summary>Adds host services (for example ASP.NET Core authentication schemes).</summary>
    public Action<IServiceCollection>? Services { get; init; }

    /// <summary>Adds middleware before the gateway is mapped.</summary>
    public Action<WebApplication>? App { get; init; }

    /// <summary>Configuration keys (for options bound from configuration).</summary>
    public IDictionary<string, string?>? Configuration { get; init; }

    /// <summary>When set, Kestrel serves HTTPS with this certificate and asks for (but does not require) a client certificate.</summary>
    public X509Certificate2? ServerCertificate { get; init; }

    /// <summary>The certificate the test client presents (HTTPS only).</summary>
    public X509Certificate2? ClientCertificate { get; init; }
}

/// <summary>
/// A real gateway on Kestrel (loopback, free port; HTTP/2 cleartext, or HTTPS with optional client certificates) in
/// front of a <see cref="RecordingEngine"/>, with one static token user (<see cref="StaticToken"/> = tina).
/// </summary>
internal sealed class TestGateway : IAsyncDisposable
{
    public const string StaticToken = "tina-static-token-0123456789abcdef";
    public const string StaticUser = "tina";

    private readonly WebApplication _app;

    private TestGateway(WebApplication app, Uri address, CapturingLoggerProvider logs, RecordingEngine engine, GrpcChannel channel)
    {
        _app = app;
        Address = address;
        Logs = logs;
        Engine = engine;
        Channel = channel;
        Client = new SparkConnectService.SparkConnectServiceClient(channel);
    }

    public Uri Address { get; }

    public GrpcChannel Channel { get; }

    public SparkConnectService.SparkConnectServiceClient Client { get; }

    public CapturingLoggerProvider Logs { get; }

    public RecordingEngine Engine { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<TestGateway> StartAsync(TestGatewayOptions options, CancellationToken cancellationToken)
    {
        var engine = await RecordingEngine.StartAsync("engine-a", cancellationToken);
        try
        {
            var builder = WebApplication.CreateSlimBuilder();
            var logs = new CapturingLoggerProvider();
            builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Debug);
            if (options.Configuration is not null)
            {
                builder.Configuration.AddInMemoryCollection(options.Configuration);
            }

            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (options.ServerCertificate is { } serverCertificate)
                {
                    listen.UseHttps(https =>
                    {
                        https.ServerCertificate = serverCertificate;
                        https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                        https.ClientCertificateValidation = (_, _, _) => true;
                    });
                }
            }));
            options.Services?.Invoke(builder.Services);
            var gateway = builder.Services.AddSparkConnectGateway(o =>
            {
                o.Engines.Default = new StaticEngineOptions { Address = engine.Address.ToString() };
                o.Authentication.Tokens.Add(new StaticTokenOptions { Token = StaticToken, User = StaticUser });
            });
            options.Gateway?.Invoke(gateway);
            var app = builder.Build();
            try
            {
                options.App?.Invoke(app);
                app.MapSparkConnectGateway();
                await app.StartAsync(cancellationToken);
            }
            catch
            {
                await app.DisposeAsync();
                throw;
            }

            var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            var handler = new SocketsHttpHandler();
            if (options.ServerCertificate is { } expectedServer)
            {
                // The test's own self-signed server certificate, pinned by thumbprint.
                handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) =>
                    presented is not null && presented.GetCertHashString() == expectedServer.GetCertHashString();
                if (options.ClientCertificate is { } clientCertificate)
                {
                    handler.SslOptions.ClientCertificates = [clientCertificate];
                    handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
                }
            }

            var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
            return new TestGateway(app, address, logs, engine, channel);
        }
        catch
        {
            await engine.DisposeAsync();
            throw;
        }
    }

    public static Metadata Bearer(string token) => new() { { "authorization", "Bearer " + token } };

    public static Metadata Basic(string user, string password)
        => new() { { "authorization", "Basic " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(user + ":" + password)) } };

    /// <summary>
    /// Sends a Config call (new session) as a Spark Connect client would, with <paramref name="claimedUserId"/> in
    /// user_context, and returns the user_id the engine saw.
    /// </summary>
    public async Task<string> CallAsUserAsync(Metadata? headers, string? claimedUserId, CancellationToken cancellationToken)
    {
        var sessionId = Guid.NewGuid().ToString();
        var request = new ConfigRequest { SessionId = sessionId };
        if (claimedUserId is not null)
        {
            request.UserContext = new UserContext { UserId = claimedUserId };
        }

        await Client.ConfigAsync(request, headers ?? [], cancellationToken: cancellationToken);
        var call = Engine.CallsTo("Config").Last(c => ConfigRequest.Parser.ParseFrom(c.Requests[0]).SessionId == sessionId);
        return ConfigRequest.Parser.ParseFrom(call.Requests[0]).UserContext.UserId;
    }

    /// <summary>Like <see cref="CallAsUserAsync"/>, expecting the gateway to fail the call.</summary>
    public async Task<RpcException> CallExpectingErrorAsync(Metadata? headers, string? claimedUserId, CancellationToken cancellationToken)
        => await Assert.ThrowsExactlyAsync<RpcException>(() => CallAsUserAsync(headers, claimedUserId, cancellationToken));

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
        await Engine.DisposeAsync();
    }
}
