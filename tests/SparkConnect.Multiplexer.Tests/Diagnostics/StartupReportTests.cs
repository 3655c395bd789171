using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Diagnostics;

/// <summary>Start-up says the truth: "ready" only once listeners are bound, and a warning when the gateway is not mapped.</summary>
[TestClass]
public sealed class StartupReportTests
{
    private const string Ready = "Spark Connect gateway ready";

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task PortAlreadyInUse_NeverSaysReady()
    {
        using var occupied = new TcpListener(IPAddress.Loopback, 0);
        occupied.Start();
        var port = ((IPEndPoint)occupied.LocalEndpoint).Port;
        var (app, logs) = Build(port, map: true);
        await using (app)
        {
            await Assert.ThrowsAsync<IOException>(() => app.StartAsync(TestContext.CancellationToken));
        }

        Assert.IsFalse(logs.Entries.Any(e => e.Message.Contains(Ready, StringComparison.Ordinal)), string.Join('\n', logs.Entries.Select(e => e.Message)));
    }

    [TestMethod]
    public async Task Started_SaysReadyOnce()
    {
        var (app, logs) = Build(0, map: true);
        await using (app)
        {
            await app.StartAsync(TestContext.CancellationToken);
            await app.StopAsync(TestContext.CancellationToken);
        }

        Assert.AreEqual(1, logs.Entries.Count(e => e.Message.Contains(Ready, StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task NotMapped_WarnsInsteadOfReady()
    {
        var (app, logs) = Build(0, map: false);
        await using (app)
        {
            await app.StartAsync(TestContext.CancellationToken);
            await app.StopAsync(TestContext.CancellationToken);
        }

        Assert.IsTrue(logs.Entries.Any(e => e.Level == LogLevel.Warning && e.Message.Contains("MapSparkConnectGateway()", StringComparison.Ordinal)));
        Assert.IsFalse(logs.Entries.Any(e => e.Message.Contains(Ready, StringComparison.Ordinal)));
    }

    [TestMethod]
    [DataRow(HttpProtocols.Http1, false, DisplayName = "cleartext HTTP/1.1 only")]
    [DataRow(HttpProtocols.Http1, true, DisplayName = "TLS, ALPN without h2")]
    public async Task EndpointWithoutHttp2_Warns(HttpProtocols protocols, bool tls)
    {
        var logs = await StartAndStopAsync(new Endpoint(protocols, tls));

        var warnings = logs.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.Contains("HTTP/2", StringComparison.Ordinal)).ToList();
        Assert.HasCount(1, warnings, Dump(logs));
        StringAssert.Contains(warnings[0].Message, "Protocols");
    }

    [TestMethod]
    [DataRow(HttpProtocols.Http2, false, DisplayName = "cleartext HTTP/2")]
    [DataRow(HttpProtocols.Http1AndHttp2, true, DisplayName = "TLS with h2 by ALPN")]
    public async Task EndpointWithHttp2_DoesNotWarn(HttpProtocols protocols, bool tls)
    {
        var logs = await StartAndStopAsync(new Endpoint(protocols, tls));

        // The check ran and found HTTP/2 (so the absence of a warning is not the absence of a check).
        Assert.IsTrue(logs.Entries.Any(e => e.Message.Contains("HTTP/2 check", StringComparison.Ordinal) && e.Message.Contains("Http2", StringComparison.Ordinal)), Dump(logs));
        Assert.IsFalse(logs.Entries.Any(e => e.Level >= LogLevel.Warning), Dump(logs));
    }

    [TestMethod]
    public async Task Http1PortBesideHttp2Port_NamedWithoutWarning()
    {
        var logs = await StartAndStopAsync(new Endpoint(HttpProtocols.Http2, false), new Endpoint(HttpProtocols.Http1, false));

        Assert.IsFalse(logs.Entries.Any(e => e.Level >= LogLevel.Warning), Dump(logs));
        Assert.AreEqual(1, logs.Entries.Count(e => e.Level == LogLevel.Information && e.Message.Contains("does not accept HTTP/2", StringComparison.Ordinal)), Dump(logs));
    }

    private async Task<CapturingLoggerProvider> StartAndStopAsync(params Endpoint[] endpoints)
    {
        using var certificate = TestCertificates.CreateServer();
        var (app, logs) = Build(0, map: true, endpoints, certificate);
        await using (app)
        {
            await app.StartAsync(TestContext.CancellationToken);
            for (var waited = 0; waited < 200 && !logs.Entries.Any(e => e.Message.Contains("HTTP/2 check", StringComparison.Ordinal)); waited++)
            {
                await Task.Delay(50, TestContext.CancellationToken);
            }

            await app.StopAsync(TestContext.CancellationToken);
        }

        return logs;
    }

    private static string Dump(CapturingLoggerProvider logs) => string.Join('\n', logs.Entries.Select(e => $"{e.Level}: {e.Message}"));

    private sealed record Endpoint(HttpProtocols Protocols, bool Tls);

    private static (WebApplication App, CapturingLoggerProvider Logs) Build(int port, bool map, Endpoint[]? endpoints = null, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        var logs = new CapturingLoggerProvider();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Debug);
        builder.WebHost.ConfigureKestrel(k =>
        {
            foreach (var endpoint in endpoints ?? [new Endpoint(HttpProtocols.Http2, false)])
            {
                k.Listen(IPAddress.Loopback, port, o =>
                {
                    o.Protocols = endpoint.Protocols;
                    if (endpoint.Tls)
                    {
                        o.UseHttps(certificate!);
                    }
                });
            }
        });
        builder.Services.AddSparkConnectGateway(o =>
        {
            o.Health.ProbeInterval = TimeSpan.Zero;
            o.Authentication.Tokens.Add(new StaticTokenOptions { Token = GatewayHost.AliceToken, User = "alice" });
            o.Engines.Default = new StaticEngineOptions { Address = "http://127.0.0.1:15003" };
        });
        var app = builder.Build();
        if (map)
        {
            app.MapSparkConnectGateway();
        }

        return (app, logs);
    }
}
