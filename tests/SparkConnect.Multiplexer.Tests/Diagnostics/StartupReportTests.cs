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

    private static (WebApplication App, CapturingLoggerProvider Logs) Build(int port, bool map)
    {
        var builder = WebApplication.CreateSlimBuilder();
        var logs = new CapturingLoggerProvider();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Information);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http2));
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
