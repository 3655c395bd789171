using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Authentication.Ldap;
using SparkConnect.Multiplexer.Authentication.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Authentication.Tests.Ldap;

/// <summary>
/// StartTLS and LDAPS against a real slapd whose certificate comes from a CA made in the test. The TLS slapd refuses
/// every operation outside TLS, so a bind that succeeds went over TLS.
/// </summary>
public sealed partial class LdapAuthenticatorTests
{
    [TestMethod]
    public async Task StartTls_ServerCertificateFromTrustedCa_FromConfiguration_UserReachesEngine()
    {
        using var ca = TestCertificates.CreateCa("Spark Gateway Test LDAP CA");
        using var certificate = TestCertificates.CreateServer(ca);
        await using var slapd = await SlapdServer.StartWithTlsAsync(ca, certificate, Cancel);
        await using var gateway = await TestGateway.StartAsync(new TestGatewayOptions
        {
            Configuration = new Dictionary<string, string?>
            {
                ["SparkConnectGateway:Authentication:Ldap:Server"] = "127.0.0.1",
                ["SparkConnectGateway:Authentication:Ldap:Port"] = slapd.Port.ToString(CultureInfo.InvariantCulture),
                ["SparkConnectGateway:Authentication:Ldap:Security"] = "StartTls",
                ["SparkConnectGateway:Authentication:Ldap:TrustedCertificatesDirectory"] = slapd.CreateTrustDirectory(ca),
                ["SparkConnectGateway:Authentication:Ldap:UserDnTemplate"] = "uid={0}," + SlapdServer.PeopleDn,
            },
            Gateway = g => g.AddLdapAuthenticator(),
        }, Cancel);

        var seen = await gateway.CallAsUserAsync(TestGateway.Bearer("alice-password"), "alice", Cancel);
        var wrong = await gateway.CallExpectingErrorAsync(TestGateway.Basic("bob", "alice-password"), null, Cancel);

        Assert.AreEqual("alice", seen);
        Assert.AreEqual(StatusCode.Unauthenticated, wrong.StatusCode, "a wrong password over StartTLS is still a wrong password");
        Assert.AreEqual(LdapAuthenticator.InvalidCredentials, wrong.Status.Detail);
    }

    [TestMethod]
    public async Task StartTls_SearchThenBindAndGroups_AllOverTls()
    {
        using var ca = TestCertificates.CreateCa("Spark Gateway Test LDAP CA");
        using var certificate = TestCertificates.CreateServer(ca);
        await using var slapd = await SlapdServer.StartWithTlsAsync(ca, certificate, Cancel);
        var (ldap, logs) = CreateLogged(o =>
        {
            SearchThenBind(o, slapd);
            o.Security = LdapTransportSecurity.StartTls;
            o.TrustedCertificatesDirectory = slapd.CreateTrustDirectory(ca);
            o.GroupSearchBase = SlapdServer.GroupsDn;
        });

        var alice = await ldap.AuthenticateAsync(TestCalls.Basic("alice", "alice-password"), Cancel);

        Assert.AreEqual(AuthenticationOutcome.Succeeded, alice.Outcome, Logged(logs));
        CollectionAssert.AreEqual(new[] { "admins", "eng" }, alice.Principal!.Groups.ToArray());
    }

    [TestMethod]
    public async Task Ldaps_ServerCertificateFromTrustedCa_UserAuthenticated()
    {
        using var ca = TestCertificates.CreateCa("Spark Gateway Test LDAP CA");
        using var certificate = TestCertificates.CreateServer(ca);
        await using var slapd = await SlapdServer.StartWithTlsAsync(ca, certificate, Cancel);
        var (ldap, logs) = CreateLogged(o =>
        {
            OverTls(o, slapd, LdapTransportSecurity.Ldaps);
            o.TrustedCertificatesDirectory = slapd.CreateTrustDirectory(ca);
        });

        var alice = await ldap.AuthenticateAsync(TestCalls.UserAndToken("alice", "alice-password"), Cancel);
        var wrong = await ldap.AuthenticateAsync(TestCalls.UserAndToken("alice", "bob-password"), Cancel);

        Assert.AreEqual(AuthenticationOutcome.Succeeded, alice.Outcome, Logged(logs));
        Assert.AreEqual("alice", alice.Principal!.UserName);
        Assert.AreEqual(AuthenticationOutcome.Refused, wrong.Outcome);
        Assert.AreEqual(LdapAuthenticator.InvalidCredentials, wrong.Reason);
    }

    [TestMethod]
    public async Task StartTls_ServerCertificateFromUntrustedCa_GatewayAnswersUnavailable_EngineNeverCalled()
    {
        // The server's certificate comes from a CA the gateway does not trust: it trusts only `trusted`.
        using var trusted = TestCertificates.CreateCa("Spark Gateway Test LDAP CA");
        using var other = TestCertificates.CreateCa("Some Other LDAP CA");
        using var certificate = TestCertificates.CreateServer(other);
        await using var slapd = await SlapdServer.StartWithTlsAsync(other, certificate, Cancel);
        await using var gateway = await TestGateway.StartAsync(new TestGatewayOptions
        {
            Gateway = g => g.AddLdapAuthenticator(o =>
            {
                OverTls(o, slapd, LdapTransportSecurity.StartTls);
                o.TrustedCertificatesDirectory = slapd.CreateTrustDirectory(trusted);
            }),
        }, Cancel);

        var error = await gateway.CallExpectingErrorAsync(TestGateway.Bearer("alice-password"), "alice", Cancel);

        Assert.AreEqual(StatusCode.Unavailable, error.StatusCode);
        Assert.AreEqual(LdapAuthenticator.Unreachable, error.Status.Detail);
        Assert.IsEmpty(gateway.Engine.Calls);
        Assert.IsTrue(
            gateway.Logs.Entries.Any(e => e.Level == LogLevel.Warning && e.Message.Contains("could not be reached over TLS (StartTls", StringComparison.Ordinal) && e.Message.Contains("TrustedCertificatesDirectory", StringComparison.Ordinal)),
            "the log must point at TLS and the trusted CAs: " + Logged(gateway.Logs));
    }

    [TestMethod]
    public async Task UntrustedServerCertificate_StartTlsAndLdaps_WithOrWithoutTrustDirectory_NeverAccepted()
    {
        using var trusted = TestCertificates.CreateCa("Spark Gateway Test LDAP CA");
        using var other = TestCertificates.CreateCa("Some Other LDAP CA");
        using var certificate = TestCertificates.CreateServer(other);
        await using var slapd = await SlapdServer.StartWithTlsAsync(other, certificate, Cancel);
        var trustAnotherCa = slapd.CreateTrustDirectory(trusted);
        var cases = new (string Name, LdapTransportSecurity Security, string? TrustDirectory)[]
        {
            ("StartTLS, trusting another CA", LdapTransportSecurity.StartTls, trustAnotherCa),
            ("LDAPS, trusting another CA", LdapTransportSecurity.Ldaps, trustAnotherCa),
            ("StartTLS, system CAs", LdapTransportSecurity.StartTls, null),
            ("LDAPS, system CAs", LdapTransportSecurity.Ldaps, null),
        };

        foreach (var (name, security, trustDirectory) in cases)
        {
            var (ldap, logs) = CreateLogged(o =>
            {
                OverTls(o, slapd, security);
                o.TrustedCertificatesDirectory = trustDirectory;
            });

            var result = await ldap.AuthenticateAsync(TestCalls.Basic("alice", "alice-password"), Cancel);

            Assert.AreEqual(AuthenticationOutcome.Unavailable, result.Outcome, name);
            Assert.IsNull(result.Principal, name);
            Assert.AreEqual(LdapAuthenticator.Unreachable, result.Reason, name);
            Assert.IsTrue(logs.Entries.Any(e => e.Message.Contains($"could not be reached over TLS ({security}", StringComparison.Ordinal)), name + ": " + Logged(logs));
        }
    }

    [TestMethod]
    public async Task StartTls_ServerWithoutTls_RefusedAtOnceWithClearLog()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        var (ldap, logs) = CreateLogged(o =>
        {
            DnTemplate(o, slapd);
            o.Security = LdapTransportSecurity.StartTls;
            o.Timeout = TimeSpan.FromSeconds(5);
        });

        var stopwatch = Stopwatch.StartNew();
        var result = await ldap.AuthenticateAsync(TestCalls.Basic("alice", "alice-password"), Cancel);
        stopwatch.Stop();

        Assert.AreEqual(AuthenticationOutcome.Unavailable, result.Outcome);
        Assert.IsNull(result.Principal);
        Assert.AreEqual(LdapAuthenticator.Unreachable, result.Reason);
        Assert.IsLessThan(TimeSpan.FromSeconds(5), stopwatch.Elapsed, "the server answers StartTLS with an error: no waiting for a timeout");
        Assert.IsTrue(
            logs.Entries.Any(e => e.Level == LogLevel.Warning && e.Message.Contains($"127.0.0.1:{slapd.Port} refused StartTLS", StringComparison.Ordinal)),
            Logged(logs));
    }

    private static void OverTls(LdapAuthenticationOptions o, SlapdServer slapd, LdapTransportSecurity security)
    {
        DnTemplate(o, slapd);
        o.Port = security == LdapTransportSecurity.Ldaps ? slapd.LdapsPort : slapd.Port;
        o.Security = security;
        o.CacheDuration = TimeSpan.Zero;
    }

    private static string Logged(CapturingLoggerProvider logs) => string.Join(" | ", logs.Entries.Select(e => e.Message));

    private static (LdapAuthenticator Authenticator, CapturingLoggerProvider Logs) CreateLogged(Action<LdapAuthenticationOptions> configure)
    {
        var options = new LdapAuthenticationOptions();
        configure(options);
        var logs = new CapturingLoggerProvider();
        var logger = new TypedLogger<LdapAuthenticator>(logs.CreateLogger(typeof(LdapAuthenticator).FullName!));
        return (new LdapAuthenticator(Options.Create(options), TimeProvider.System, logger), logs);
    }

    /// <summary>Logs through <paramref name="inner"/>, with the exception appended so a failed assertion shows it.</summary>
    private sealed class TypedLogger<T>(ILogger inner) : ILogger<T>
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => inner.Log(logLevel, eventId, state, exception, (s, e) => e is null ? formatter(s, e) : $"{formatter(s, e)} [{e.GetType().Name}: {e.Message}]");
    }
}
