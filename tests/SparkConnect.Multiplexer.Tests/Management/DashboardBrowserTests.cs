using Grpc.Core;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Management;

/// <summary>
/// The dashboard in a real browser: Debian's headless chromium, driven through its chromedriver by Selenium.
/// Screenshots are attached to the test results (and are the ones in docs/).
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class DashboardBrowserTests
{
    private const string ChromeDriverDirectory = "/usr/bin";
    private const string Chromium = "/usr/bin/chromium";

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task Dashboard_AdminReleasesASession_ItsOwnersNextCallIsRefused()
    {
        Assert.IsTrue(File.Exists(Path.Combine(ChromeDriverDirectory, "chromedriver")) && File.Exists(Chromium),
            "The dashboard test needs Debian's chromium and chromium-driver: ./build.sh installs them (apt-get install chromium chromium-driver).");
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var host = await ManagementHost.StartAsync(engine);
        var aliceSession = GatewayHost.NewSessionId();
        var bobSession = GatewayHost.NewSessionId();
        await host.Client.ConfigAsync(new ConfigRequest { SessionId = aliceSession }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel);
        await host.Client.ConfigAsync(new ConfigRequest { SessionId = bobSession }, GatewayHost.Bearer(GatewayHost.BobToken), cancellationToken: Cancel);
        await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await host.Client.ConfigAsync(new ConfigRequest { SessionId = aliceSession }, GatewayHost.Bearer(GatewayHost.BobToken), cancellationToken: Cancel));

        using var driver = StartBrowser();
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(30));
        driver.Navigate().GoToUrl(host.ManagementAddress);
        Screenshot(driver, "dashboard-login.png");
        driver.FindElement(By.Id("token")).SendKeys(GatewayHost.AliceToken);
        driver.FindElement(By.Id("signin")).Click();

        // Both users' sessions, opened by real gRPC calls through the gateway; the refused hijack attempt.
        wait.Until(d => d.FindElements(By.CssSelector("#sessions tbody tr[data-session-id]")).Count == 2);
        wait.Until(d => d.FindElements(By.CssSelector("#refusals tbody tr")).Any(r => r.Text.Contains("ownership", StringComparison.Ordinal)));
        var users = driver.FindElements(By.CssSelector("#sessions tbody tr[data-session-id]")).Select(r => r.GetDomAttribute("data-user")).Order(StringComparer.Ordinal).ToArray();
        CollectionAssert.AreEqual(new[] { "alice", "bob" }, users);
        var engineRow = driver.FindElement(By.CssSelector("#engines tbody tr")).Text;
        StringAssert.Contains(engineRow, "USER/alice/default, USER/bob/default", "the static engine, with the keys of its sessions");
        Screenshot(driver, "dashboard.png");

        driver.FindElement(By.CssSelector($"#sessions tbody tr[data-session-id='{bobSession}'] button")).Click();
        var confirm = wait.Until(d => TryAlert(d));
        StringAssert.Contains(confirm.Text, bobSession);
        confirm.Accept();
        wait.Until(d => d.FindElements(By.CssSelector("#sessions tbody tr[data-session-id]")).Count == 1);
        Assert.AreEqual(aliceSession, driver.FindElement(By.CssSelector("#sessions tbody tr[data-session-id]")).GetDomAttribute("data-session-id"));
        Screenshot(driver, "dashboard-released.png");

        var next = await Assert.ThrowsExactlyAsync<RpcException>(async () =>
            await host.Client.ConfigAsync(new ConfigRequest { SessionId = bobSession }, GatewayHost.Bearer(GatewayHost.BobToken), cancellationToken: Cancel));
        Assert.AreEqual(StatusCode.Internal, next.StatusCode);
        StringAssert.Contains(next.Status.Detail, "INVALID_HANDLE.SESSION_CLOSED");
        await host.Client.ConfigAsync(new ConfigRequest { SessionId = aliceSession }, GatewayHost.Bearer(GatewayHost.AliceToken), cancellationToken: Cancel);
    }

    [TestMethod]
    public async Task Dashboard_ANonAdministratorsToken_IsSentBackToSignIn()
    {
        await using var engine = await RecordingEngine.StartAsync("engine-a", Cancel);
        await using var host = await ManagementHost.StartAsync(engine);
        using var driver = StartBrowser();
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(30));

        driver.Navigate().GoToUrl(host.ManagementAddress);
        driver.FindElement(By.Id("token")).SendKeys(GatewayHost.BobToken);
        driver.FindElement(By.Id("signin")).Click();

        wait.Until(d => d.FindElement(By.Id("login-error")).Text.Length > 0);
        StringAssert.Contains(driver.FindElement(By.Id("login-error")).Text, "not an administrator");
        Assert.IsFalse(driver.FindElement(By.Id("content")).Displayed);
    }

    private static ChromeDriver StartBrowser()
    {
        var service = ChromeDriverService.CreateDefaultService(ChromeDriverDirectory, "chromedriver");
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900", "--user-data-dir=" + Directory.CreateTempSubdirectory("chromium-").FullName);
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    private static IAlert? TryAlert(IWebDriver driver)
    {
        try
        {
            return driver.SwitchTo().Alert();
        }
        catch (NoAlertPresentException)
        {
            return null;
        }
    }

    private void Screenshot(ChromeDriver driver, string name)
    {
        var path = Path.Combine(TestContext.TestResultsDirectory ?? Path.GetTempPath(), name);
        driver.GetScreenshot().SaveAsFile(path);
        TestContext.AddResultFile(path);
    }
}
