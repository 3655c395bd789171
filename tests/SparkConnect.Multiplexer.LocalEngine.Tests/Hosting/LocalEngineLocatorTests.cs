using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.LocalEngine.Hosting;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Hosting;

[TestClass]
public sealed class LocalEngineLocatorTests
{
    private static EngineRequest Request(string user) => new(
        new GatewayPrincipal(user),
        new EngineKey(ShareLevel.User, user, EngineKey.DefaultSubdomain),
        Guid.NewGuid().ToString(),
        new Dictionary<string, string>(),
        null);

    [TestMethod]
    public async Task LocateAsync_ConcurrentFirstCalls_StartOneEnginePerKey()
    {
        await using var locator = new LocalEngineLocator(Options.Create(new LocalEngineOptions()), NullLoggerFactory.Instance);
        var calls = Enumerable.Range(0, 8).Select(_ => locator.LocateAsync(Request("alice"), CancellationToken.None).AsTask());
        var endpoints = await Task.WhenAll(calls);
        Assert.AreEqual(1, endpoints.Select(e => e.Id).Distinct().Count());
        StringAssert.StartsWith(endpoints[0].Id, "local:USER/alice/default:");
        Assert.AreEqual("127.0.0.1", endpoints[0].Address.Host);

        var bob = await locator.LocateAsync(Request("bob"), CancellationToken.None);
        Assert.AreNotEqual(endpoints[0].Address, bob.Address);
    }

    [TestMethod]
    public async Task DisposeAsync_StopsEngines()
    {
        var locator = new LocalEngineLocator(Options.Create(new LocalEngineOptions()), NullLoggerFactory.Instance);
        var endpoint = await locator.LocateAsync(Request("carol"), CancellationToken.None);
        await locator.DisposeAsync();
        using var tcp = new System.Net.Sockets.TcpClient();
        await Assert.ThrowsExactlyAsync<System.Net.Sockets.SocketException>(() => tcp.ConnectAsync(endpoint.Address.Host, endpoint.Address.Port));
        await Assert.ThrowsExactlyAsync<ObjectDisposedException>(() => locator.LocateAsync(Request("carol"), CancellationToken.None).AsTask());
    }

    [TestMethod]
    public void Options_Invalid_ReportsEveryProblemWithFix()
    {
        var options = new LocalEngineOptions { MaxBatchBytes = 10, SparkVersion = "latest", DefaultTimeZone = "Mars/Base", MaxStreamDuration = TimeSpan.Zero };
        var errors = options.Validate();
        Assert.HasCount(4, errors);
        Assert.IsTrue(errors.Any(e => e.Contains("MaxBatchBytes", StringComparison.Ordinal) && e.Contains("at least 1024", StringComparison.Ordinal)));
        Assert.IsTrue(errors.Any(e => e.Contains("\"4.0.0\"", StringComparison.Ordinal)));
        Assert.IsEmpty(new LocalEngineOptions().Validate());
    }

    [TestMethod]
    public async Task StartAsync_InvalidOptions_Throws()
    {
        var error = await Assert.ThrowsExactlyAsync<ArgumentException>(() => LocalSparkConnectEngine.StartAsync(new LocalEngineOptions { EngineName = " " }));
        StringAssert.Contains(error.Message, "EngineName");
    }
}
