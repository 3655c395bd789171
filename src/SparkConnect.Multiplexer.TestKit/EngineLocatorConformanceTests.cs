using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace SparkConnect.Multiplexer.TestKit;

/// <summary>
/// What every <see cref="IEngineLocator"/> must do for the gateway to route sessions safely. A locator's test project
/// derives a <c>[TestClass]</c> from this class and registers the locator in <see cref="ConfigureLocator"/>; each test
/// then starts a gateway host of its own (the gateway's services with that locator, no listening port), asks the
/// locator through the gateway's service provider, and stops the host — and with it every engine the locator
/// started — at the end of the test.
/// </summary>
/// <remarks>
/// <para>The rules, for every locator:</para>
/// <list type="bullet">
/// <item>For a new engine key it returns an endpoint: a non-empty id and an absolute <c>http</c>/<c>https</c> address.</item>
/// <item>Asked again for the same key, it returns the same engine (same id): sessions of one user share the user's engine.</item>
/// <item>Concurrent first requests for one key share one engine (a launcher launches once).</item>
/// <item>With <see cref="EngineRequest.MayLaunch"/> <see langword="false"/> and an engine running for the key, it returns that engine.</item>
/// <item>When it cannot serve, it throws <see cref="EngineLocationException"/> with the status the client should see (never OK) — never any other exception.</item>
/// </list>
/// <para>And, for a locator that launches engines (<see cref="LaunchesEngines"/>):</para>
/// <list type="bullet">
/// <item>With <see cref="EngineRequest.MayLaunch"/> <see langword="false"/> and no engine running for the key, it throws <see cref="EngineNotRunningException"/> and launches nothing.</item>
/// <item>An engine reported lost through <see cref="IEngineLifecycle.ReportLost"/> is never handed out again: until a new engine runs for the key, <see cref="EngineRequest.MayLaunch"/> <see langword="false"/> gets <see cref="EngineNotRunningException"/>, and a request that may launch gets an engine with a new id.</item>
/// </list>
/// <para>
/// A locator that finds engines started by others (<see cref="DiscoversEngines"/>, such as a registry without a
/// launcher) keeps the launcher's rules, with the suite starting the engines: where a test needs an engine running for
/// its key it calls <see cref="StartEngineAsync"/> first, and after a lost report it starts a new one, which the
/// locator must hand out instead of the lost one.
/// </para>
/// <para>
/// A locator over a fixed list of engines cannot launch a replacement, so for it a lost report demands only that it
/// keeps answering (it may return the same id again: to the gateway that is the engine come back; sessions bound
/// before the report are told their engine is lost either way, which is the gateway's part, not the locator's), and
/// <see cref="EngineRequest.MayLaunch"/> <see langword="false"/> returns the engine it always returns.
/// </para>
/// </remarks>
public abstract class EngineLocatorConformanceTests
{
    private readonly List<IHost> _hosts = [];

    /// <summary>Set by MSTest; its cancellation token ends a test that is being aborted.</summary>
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    /// <summary>
    /// Whether the locator launches engines (and so must honour <see cref="EngineRequest.MayLaunch"/> and replace a lost
    /// engine); <see langword="false"/> for a locator over a fixed list of engines. Default <see langword="true"/>.
    /// </summary>
    protected virtual bool LaunchesEngines => true;

    /// <summary>
    /// Whether the locator finds engines that others start and register (a discovery locator without a launcher). The
    /// suite then starts them through <see cref="StartEngineAsync"/>, and the launcher's rules apply:
    /// <see cref="EngineRequest.MayLaunch"/> <see langword="false"/> with no engine running gets
    /// <see cref="EngineNotRunningException"/>, and a lost engine is never handed out again. Default
    /// <see langword="false"/>; <see cref="LaunchesEngines"/> must then be <see langword="false"/>.
    /// </summary>
    protected virtual bool DiscoversEngines => false;

    /// <summary>How many concurrent first requests the concurrency rule makes for one key. Default 16.</summary>
    protected virtual int ConcurrentRequests => 16;

    /// <summary>
    /// Registers the locator under test (for example <c>gateway.AddEngineLocator&lt;MyLocator&gt;()</c> or the
    /// package's own <c>Add...</c> method) and whatever it needs, such as options pointing at a test engine. Called once
    /// per test, for a new host.
    /// </summary>
    /// <param name="gateway">The gateway's builder; <see cref="ISparkConnectGatewayBuilder.Services"/> holds the host's services.</param>
    protected abstract void ConfigureLocator(ISparkConnectGatewayBuilder gateway);

    /// <summary>
    /// Registers the locator configured so that it cannot serve any request — no engine configured, an engine command
    /// that cannot start, a capacity of nothing — for the failure rule. Return <see langword="false"/> (the default)
    /// when that cannot be arranged; the failure test is then inconclusive.
    /// </summary>
    /// <param name="gateway">The gateway's builder.</param>
    /// <returns>Whether a failing locator was registered.</returns>
    protected virtual bool ConfigureFailingLocator(ISparkConnectGatewayBuilder gateway) => false;

    /// <summary>
    /// For a locator that <see cref="DiscoversEngines"/>: starts (or registers) an engine for <paramref name="key"/>
    /// where the locator finds engines, as the party that runs engines would, and returns once the locator sees it (a
    /// registry's change may reach the locator a moment later: wait for it, for example by asking the locator from
    /// <paramref name="gatewayServices"/> with <see cref="EngineRequest.MayLaunch"/> <see langword="false"/>). Each call
    /// starts a new engine, with an id of its own. Whatever it starts must be stopped by
    /// <see cref="AfterGatewaysStoppedAsync"/> at the latest.
    /// </summary>
    /// <param name="key">The key to start an engine for.</param>
    /// <param name="gatewayServices">The services of the gateway under test (its <see cref="IEngineLocator"/>, say).</param>
    /// <param name="cancellationToken">Ends the wait when the test is aborted.</param>
    /// <returns>A task that completes when the locator sees the engine.</returns>
    protected virtual Task StartEngineAsync(EngineKey key, IServiceProvider gatewayServices, CancellationToken cancellationToken)
        => throw new NotSupportedException($"{GetType().Name} sets {nameof(DiscoversEngines)} and must override {nameof(StartEngineAsync)}.");

    /// <summary>
    /// The request the tests make for <paramref name="key"/>: by default a principal named after the key's owner, a new
    /// session id and no hints. Override to add the hints or attributes the locator needs.
    /// </summary>
    /// <param name="key">The engine key; each test uses keys of its own (USER share level, a fresh user name).</param>
    /// <param name="mayLaunch">The request's <see cref="EngineRequest.MayLaunch"/>.</param>
    /// <returns>The request.</returns>
    protected virtual EngineRequest CreateRequest(EngineKey key, bool mayLaunch)
    {
        ArgumentNullException.ThrowIfNull(key);
        return new EngineRequest(new GatewayPrincipal(key.Owner), key, Guid.NewGuid().ToString(), new Dictionary<string, string>(), null)
        {
            MayLaunch = mayLaunch,
        };
    }

    /// <summary>Stops every gateway host the test started, and so the engines their locators started.</summary>
    /// <returns>A task that completes when they have stopped.</returns>
    [TestCleanup]
    public async Task StopGatewaysAsync()
    {
        foreach (var host in _hosts)
        {
            try
            {
                await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                if (host is IAsyncDisposable disposable)
                {
                    await disposable.DisposeAsync().ConfigureAwait(false);
                }
                else
                {
                    host.Dispose();
                }
            }
        }

        _hosts.Clear();
        await AfterGatewaysStoppedAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Runs after each test once its gateways (and so their engines) have stopped: the place to remove what
    /// <see cref="ConfigureLocator"/> created, such as a working directory. (A derived class's own
    /// <c>[TestCleanup]</c> runs before this class's, while engines may still run.)
    /// </summary>
    /// <returns>A task that completes when cleaned up.</returns>
    protected virtual Task AfterGatewaysStoppedAsync() => Task.CompletedTask;

    /// <summary>A new key gets an endpoint with an id and an absolute http(s) address.</summary>
    /// <returns>A task for the test.</returns>
    [TestMethod]
    public async Task LocateAsync_NewKey_ReturnsAnEndpoint()
    {
        var gateway = await StartAsync(ConfigureLocator);
        var locator = gateway.Locator;
        var key = NewKey();
        await StartEngineWhenDiscoveredAsync(gateway, key);

        var engine = await locator.LocateAsync(CreateRequest(key, mayLaunch: true), Cancel);

        Assert.IsNotNull(engine);
        Assert.IsFalse(string.IsNullOrWhiteSpace(engine.Id), "an engine has an id");
        Assert.IsTrue(engine.Address.IsAbsoluteUri && (engine.Address.Scheme == Uri.UriSchemeHttp || engine.Address.Scheme == Uri.UriSchemeHttps), $"address {engine.Address}");
    }

    /// <summary>The same key twice gets the same engine.</summary>
    /// <returns>A task for the test.</returns>
    [TestMethod]
    public async Task LocateAsync_SameKeyTwice_ReturnsTheSameEngine()
    {
        var gateway = await StartAsync(ConfigureLocator);
        var locator = gateway.Locator;
        var key = NewKey();
        await StartEngineWhenDiscoveredAsync(gateway, key);

        var first = await locator.LocateAsync(CreateRequest(key, mayLaunch: true), Cancel);
        var second = await locator.LocateAsync(CreateRequest(key, mayLaunch: true), Cancel);

        Assert.AreEqual(first.Id, second.Id, "sessions of one key share its engine");
        Assert.AreEqual(first.Address, second.Address);
    }

    /// <summary>Concurrent first requests for one key share one engine.</summary>
    /// <returns>A task for the test.</returns>
    [TestMethod]
    public async Task LocateAsync_ConcurrentRequestsForOneKey_ShareOneEngine()
    {
        var gateway = await StartAsync(ConfigureLocator);
        var locator = gateway.Locator;
        var key = NewKey();
        await StartEngineWhenDiscoveredAsync(gateway, key);
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var requests = Enumerable.Range(0, ConcurrentRequests).Select(_ => Task.Run(
            async () =>
            {
                // All released at once, so that the requests meet inside the locator.
                await start.Task.WaitAsync(Cancel).ConfigureAwait(false);
                return await locator.LocateAsync(CreateRequest(key, mayLaunch: true), Cancel).ConfigureAwait(false);
            },
            Cancel)).ToArray();
        start.SetResult();
        var engines = await Task.WhenAll(requests);

        Assert.AreEqual(1, engines.Select(e => e.Id).Distinct(StringComparer.Ordinal).Count(), "one engine for the key: " + string.Join(", ", engines.Select(e => e.Id).Distinct(StringComparer.Ordinal)));
    }

    /// <summary>With an engine running for the key, a request that may not launch gets that engine.</summary>
    /// <returns>A task for the test.</returns>
    [TestMethod]
    public async Task LocateAsync_MayNotLaunch_EngineRuns_ReturnsIt()
    {
        var gateway = await StartAsync(ConfigureLocator);
        var locator = gateway.Locator;
        var key = NewKey();
        await StartEngineWhenDiscoveredAsync(gateway, key);
        var running = await locator.LocateAsync(CreateRequest(key, mayLaunch: true), Cancel);

        var found = await locator.LocateAsync(CreateRequest(key, mayLaunch: false), Cancel);

        Assert.AreEqual(running.Id, found.Id);
    }

    /// <summary>
    /// With no engine running for the key, a launcher asked not to launch throws <see cref="EngineNotRunningException"/>
    /// and launches nothing; a fixed list returns the engine it always returns.
    /// </summary>
    /// <returns>A task for the test.</returns>
    [TestMethod]
    public async Task LocateAsync_MayNotLaunch_NothingRuns_LaunchesNothing()
    {
        var locator = (await StartAsync(ConfigureLocator)).Locator;
        var key = NewKey();

        if (IsFixedList)
        {
            var listed = await locator.LocateAsync(CreateRequest(key, mayLaunch: false), Cancel);
            Assert.AreEqual((await locator.LocateAsync(CreateRequest(key, mayLaunch: true), Cancel)).Id, listed.Id, "a fixed list has nothing to launch: the same engine either way");
            return;
        }

        await Assert.ThrowsExactlyAsync<EngineNotRunningException>(async () => await locator.LocateAsync(CreateRequest(key, mayLaunch: false), Cancel));
        await Assert.ThrowsExactlyAsync<EngineNotRunningException>(async () => await locator.LocateAsync(CreateRequest(key, mayLaunch: false), Cancel), "the first refusal launched nothing");
    }

    /// <summary>A locator that cannot serve says so with <see cref="EngineLocationException"/> and an explicit, non-OK status.</summary>
    /// <returns>A task for the test.</returns>
    [TestMethod]
    public async Task LocateAsync_CannotServe_ThrowsEngineLocationExceptionWithAStatus()
    {
        var registered = false;
        var gateway = await StartAsync(g => registered = ConfigureFailingLocator(g));
        if (!registered)
        {
            Assert.Inconclusive($"{GetType().Name} does not override {nameof(ConfigureFailingLocator)}.");
        }

        var failure = await Assert.ThrowsExactlyAsync<EngineLocationException>(async () => await gateway.Locator.LocateAsync(CreateRequest(NewKey(), mayLaunch: true), Cancel));

        Assert.AreNotEqual(StatusCode.OK, failure.StatusCode);
        Assert.IsTrue(Enum.IsDefined(failure.StatusCode), $"a gRPC status, not {(int)failure.StatusCode}");
        Assert.IsFalse(string.IsNullOrWhiteSpace(failure.Message), "the message reaches the client and tells it why");
    }

    /// <summary>
    /// After an engine is reported lost through the gateway's <see cref="IEngineLifecycle"/>, a launcher never hands it
    /// out again; a fixed list keeps answering.
    /// </summary>
    /// <returns>A task for the test.</returns>
    [TestMethod]
    public async Task LocateAsync_AfterReportLost_NeverReturnsTheLostEngine()
    {
        var gateway = await StartAsync(ConfigureLocator);
        var key = NewKey();
        await StartEngineWhenDiscoveredAsync(gateway, key);
        var lost = await gateway.Locator.LocateAsync(CreateRequest(key, mayLaunch: true), Cancel);

        gateway.Lifecycle.ReportLost(lost.Id, "conformance test: reported lost");

        Assert.IsTrue(gateway.Lifecycle.IsGone(lost.Id, out var report) && report.Kind == EngineGoneKind.Lost, "the gateway's lifecycle holds the report");
        if (IsFixedList)
        {
            Assert.IsNotNull(await gateway.Locator.LocateAsync(CreateRequest(key, mayLaunch: true), Cancel), "a fixed list keeps answering after a report");
            return;
        }

        await Assert.ThrowsExactlyAsync<EngineNotRunningException>(async () => await gateway.Locator.LocateAsync(CreateRequest(key, mayLaunch: false), Cancel), "the lost engine no longer counts as running");

        // A discovering locator's replacement is started by others, and registered next to the lost one's entry.
        await StartEngineWhenDiscoveredAsync(gateway, key);
        var replacement = await gateway.Locator.LocateAsync(CreateRequest(key, mayLaunch: true), Cancel);
        Assert.AreNotEqual(lost.Id, replacement.Id, "a new engine, not the lost one");
        Assert.AreEqual(replacement.Id, (await gateway.Locator.LocateAsync(CreateRequest(key, mayLaunch: false), Cancel)).Id, "the replacement is the key's engine now");
    }

    /// <summary>A key of the test's own: USER share level, a user name no other test uses.</summary>
    /// <returns>The key.</returns>
    protected static EngineKey NewKey()
        => new() { ShareLevel = ShareLevel.User, Owner = "conformance-" + Guid.NewGuid().ToString("N")[..12] };

    /// <summary>Whether the locator hands out engines from a fixed list (neither launches nor discovers them).</summary>
    private bool IsFixedList => !LaunchesEngines && !DiscoversEngines;

    private Task StartEngineWhenDiscoveredAsync(Gateway gateway, EngineKey key) => DiscoversEngines ? StartEngineAsync(key, gateway.Services, Cancel) : Task.CompletedTask;

    private async Task<Gateway> StartAsync(Action<ISparkConnectGatewayBuilder> configure)
    {
        if (LaunchesEngines && DiscoversEngines)
        {
            throw new InvalidOperationException($"{GetType().Name}: a locator that launches engines overrides {nameof(LaunchesEngines)} only; {nameof(DiscoversEngines)} is for one that finds engines others start.");
        }

        // The gateway's services without a server: the locator is called directly, as the gateway calls it, and the
        // host still starts the hosted services and validates options as a real gateway would.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        // No listener means no client to authenticate; probes off, so that only the tests report engines lost.
        var gateway = builder.Services.AddSparkConnectGateway(o =>
        {
            o.Authentication.Mode = GatewayAuthenticationMode.None;
            o.Health.ProbeInterval = TimeSpan.Zero;
        });
        configure(gateway);
        var host = builder.Build();
        _hosts.Add(host);
        await host.StartAsync(Cancel).ConfigureAwait(false);
        return new Gateway(host.Services.GetRequiredService<IEngineLocator>(), host.Services.GetRequiredService<IEngineLifecycle>(), host.Services);
    }

    private sealed record Gateway(IEngineLocator Locator, IEngineLifecycle Lifecycle, IServiceProvider Services);
}
