using System.Net;
using System.Net.Http.Headers;
using SparkConnect.Multiplexer.Testing;
using SparkConnect.Multiplexer.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.Tests.Management;

[TestClass]
public sealed class SampleHostManagementTests
{
    private const string AdminToken = "admin-token-0123456789abcdef";
    private const string UserToken = "user-token-0123456789abcdef00";

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task SampleHost_ServesManagementOnItsOwnPort_AndSaysWhere()
    {
        // The host pins each endpoint to its port number (RequireHost), so it needs both numbers before it binds:
        // free ports, started again on new ones if another process takes one first.
        await using var host = await ServerProcess.StartOnFreePortsAsync(2, ports => SampleHostProcess.StartInfo(
            $"--SampleHost:Port={ports[0]}",
            $"--SampleHost:ManagementPort={ports[1]}",
            "--SampleHost:EngineMode=Static",
            "--SparkConnectGateway:Authentication:Tokens:0:Token=" + AdminToken,
            "--SparkConnectGateway:Authentication:Tokens:0:User=operator",
            "--SparkConnectGateway:Authentication:Tokens:1:Token=" + UserToken,
            "--SparkConnectGateway:Authentication:Tokens:1:User=carol",
            "--SparkConnectGateway:Admin:Users:0=operator",
            // The log lines on standard error, where the test can read them.
            "--Logging:Console:LogToStandardErrorThreshold=Trace"), "sample host", (ports, ct) => ServerProcess.AcceptsConnectionsAsync(ports[1], ct), TimeSpan.FromSeconds(60), TestContext.CancellationToken);
        var managementPort = host.Ports[1];
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}"), Timeout = TimeSpan.FromSeconds(30) };

        using var healthz = await http.GetAsync("/healthz", TestContext.CancellationToken);
        using var readyz = await http.GetAsync("/readyz", TestContext.CancellationToken);
        using var metrics = await http.GetAsync("/metrics", TestContext.CancellationToken);
        using var asUser = await GetAsync(http, "/api/v1/admin/engines", UserToken);
        using var asAdmin = await GetAsync(http, "/api/v1/admin/engines", AdminToken);
        using var dashboard = await http.GetAsync("/", TestContext.CancellationToken);

        Assert.AreEqual(HttpStatusCode.OK, healthz.StatusCode);
        Assert.AreEqual(HttpStatusCode.OK, readyz.StatusCode, await readyz.Content.ReadAsStringAsync(TestContext.CancellationToken));
        Assert.AreEqual(HttpStatusCode.OK, metrics.StatusCode);
        StringAssert.StartsWith(metrics.Content.Headers.ContentType?.MediaType, "text/plain");
        Assert.AreEqual(HttpStatusCode.Forbidden, asUser.StatusCode);
        Assert.AreEqual(HttpStatusCode.OK, asAdmin.StatusCode);
        StringAssert.Contains(await dashboard.Content.ReadAsStringAsync(TestContext.CancellationToken), "dashboard.js");
        StringAssert.Contains(host.ErrorOutput, $"Management endpoint on http://127.0.0.1:{managementPort}/");
    }

    private async Task<HttpResponseMessage> GetAsync(HttpClient http, string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await http.SendAsync(request, TestContext.CancellationToken);
    }
}
