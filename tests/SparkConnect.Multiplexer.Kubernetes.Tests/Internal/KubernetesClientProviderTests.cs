using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using SparkConnect.Multiplexer.Kubernetes.Internal;
using SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;
using static SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure.KubernetesGateway;
using static SparkConnect.Multiplexer.Testing.Polling;

namespace SparkConnect.Multiplexer.Kubernetes.Tests.Internal;

/// <summary>
/// The ways the client finds its cluster other than an explicit server, end to end through a real gateway against
/// the stand-in API server (not a Kubernetes): a kubeconfig file, and the in-cluster service account over HTTPS.
/// No test changes environment variables or writes outside its temporary directory, so they run in parallel.
/// </summary>
[TestClass]
public sealed class KubernetesClientProviderTests
{
    private const string Restarts = "spark_connect.kubernetes.watch.restarts";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Locate_KubeConfigWithNamedContext_DiscoversThroughThatContextsServerAndToken()
    {
        const string token = "kubeconfig-user-token";
        var path = Path.Combine(Path.GetTempPath(), "kubeconfig-" + Guid.NewGuid().ToString("N"));
        var api = await StandInKubernetesApiServer.StartAsync();
        api.RequiredToken = token;

        // The file's current context is another cluster and user: only KubeConfigContext leads to the stand-in.
        await File.WriteAllTextAsync(path, $$"""
            apiVersion: v1
            kind: Config
            current-context: production
            clusters:
            - name: production
              cluster:
                server: https://production.invalid:6443
            - name: stand-in
              cluster:
                server: {{api.Address}}
            users:
            - name: someone-else
              user:
                token: not-this-token
            - name: gateway
              user:
                token: {{token}}
            contexts:
            - name: production
              context: { cluster: production, user: someone-else }
            - name: stand-in
              context: { cluster: stand-in, user: gateway }
            """, TestContext.CancellationToken);
        try
        {
            await using var gateway = await StartAsync(
                o =>
                {
                    o.Server = null;
                    o.KubeConfigPath = path;
                    o.KubeConfigContext = "stand-in";
                    o.LaunchEngines = false;
                },
                api: api);
            var engine = await gateway.StartEngineAsync("kubeconfig-engine");
            gateway.Api.AddPod(EnginePod("alice-engine", "alice", engine.Address.Port));
            gateway.Api.SetRunning(Namespace, "alice-engine", ready: true);
            await WaitServingAsync(gateway, "alice-engine");

            var response = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: TestContext.CancellationToken);

            Assert.AreEqual("kubeconfig-engine", response.ServerSideSessionId);
            Assert.IsNotEmpty(gateway.Api.BearerTokens);
            Assert.IsTrue(gateway.Api.BearerTokens.All(t => t == token), "every request carried the context's user token: " + string.Join(", ", gateway.Api.BearerTokens));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public async Task Locate_InClusterServiceAccount_DiscoversOverHttpsAndSendsRotatedTokenAfterRefreshInterval()
    {
        using var authority = TestCertificates.CreateCa("Stand-in cluster CA");
        using var serverCertificate = TestCertificates.CreateServer(authority);
        using var account = new ServiceAccountDirectory("first-token", authority);
        var tokenClock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var api = await StandInKubernetesApiServer.StartAsync(serverCertificate);
        api.RequiredToken = "first-token";
        Assert.AreEqual(Uri.UriSchemeHttps, api.Address.Scheme);

        // Neither Server nor KubeConfigPath: the in-cluster configuration, from the directory and the stand-in's address.
        // Only the token's refresh runs on the fake clock; the gateway keeps real time.
        await using var gateway = await StartAsync(
            o =>
            {
                o.Server = null;
                o.LaunchEngines = false;
            },
            services => services.AddSingleton(account.Configuration(api.Address, tokenClock)),
            api: api);
        var first = await gateway.StartEngineAsync("in-cluster-first");
        gateway.Api.AddPod(EnginePod("alice-engine", "alice", first.Address.Port));
        gateway.Api.SetRunning(Namespace, "alice-engine", ready: true);
        await WaitServingAsync(gateway, "alice-engine");
        var response = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Alice, cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual("in-cluster-first", response.ServerSideSessionId);
        Assert.IsTrue(gateway.Api.BearerTokens.All(t => t == "first-token"), "the service account token is sent, over TLS trusting ca.crt");

        // The kubelet writes a new token, and the API server now accepts only that one. The watches end and reconnect.
        account.WriteToken("second-token");
        gateway.Api.RequiredToken = "second-token";
        var rotatedAt = gateway.Api.BearerTokens.Count;
        gateway.Api.CloseWatches();

        // Within the refresh interval the token already read is sent: refused, and retried every WatchRetryDelay.
        Assert.IsTrue(
            await EventuallyAsync(() => gateway.Metrics.Count(Restarts, ("kind", "failed"), (KubernetesMetrics.NamespaceTag, Namespace)) >= 2
                && gateway.Metrics.Count(Restarts, ("kind", "failed"), (KubernetesMetrics.NamespaceTag, OtherNamespace)) >= 2, Wait),
            "watches with the old token are refused and retried");
        Assert.AreEqual(0, gateway.Api.OpenWatchCount);
        Assert.IsTrue(gateway.Api.BearerTokens.Skip(rotatedAt).All(t => t == "first-token"), "the file is not read again before the refresh interval");

        // Once the interval has passed, the next request reads the file again.
        tokenClock.Advance(InClusterConfiguration.DefaultTokenRefreshInterval);
        Assert.IsTrue(await EventuallyAsync(() => gateway.Api.OpenWatchCount == 2, Wait), "the watches reconnect with the new token");
        Assert.AreEqual("second-token", gateway.Api.BearerTokens[^1]);
        var second = await gateway.StartEngineAsync("in-cluster-second");
        gateway.Api.AddPod(EnginePod("bob-engine", "bob", second.Address.Port));
        gateway.Api.SetRunning(Namespace, "bob-engine", ready: true);
        await WaitServingAsync(gateway, "bob-engine");
        response = await gateway.Client.ConfigAsync(GetAll(GatewayHost.NewSessionId()), Bob, cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual("in-cluster-second", response.ServerSideSessionId);
    }

    private static async Task WaitServingAsync(KubernetesGateway gateway, string name)
        => Assert.IsTrue(
            await EventuallyAsync(() => gateway.Cache.Get(Namespace, name) is { } pod && EnginePods.IsServing(pod), Wait),
            $"the cache sees {Namespace}/{name} Running and Ready: " + string.Join(Environment.NewLine, gateway.Host.Logs.Entries.Select(e => e.Message)));
}
