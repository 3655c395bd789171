using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Authentication.Ldap;
using SparkConnect.Multiplexer.Authentication.Tests.Infrastructure;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Authentication.Tests.Ldap;

// One class (TLS tests in LdapAuthenticatorTests.Tls.cs), so its tests run one at a time: a slapd started or killed
// by a test running alongside sends this process SIGCHLD, and libldap reports a wait it interrupts as "The LDAP
// server is unavailable" (81), failing a healthy bind.
[TestClass]
public sealed partial class LdapAuthenticatorTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task SparkConnectClient_UserIdAndTokenAsPassword_FromConfiguration_UserReachesEngine()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        await using var gateway = await TestGateway.StartAsync(new TestGatewayOptions
        {
            Configuration = new Dictionary<string, string?>
            {
                ["SparkConnectGateway:Authentication:Ldap:Server"] = "127.0.0.1",
                ["SparkConnectGateway:Authentication:Ldap:Port"] = slapd.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["SparkConnectGateway:Authentication:Ldap:Security"] = "None",
                ["SparkConnectGateway:Authentication:Ldap:UserDnTemplate"] = "uid={0}," + SlapdServer.PeopleDn,
            },
            Gateway = g => g.AddLdapAuthenticator(),
        }, Cancel);

        // sc://host:15002/;use_ssl=true;user_id=alice;token=alice-password
        var seen = await gateway.CallAsUserAsync(TestGateway.Bearer("alice-password"), "alice", Cancel);
        var basic = await gateway.CallAsUserAsync(TestGateway.Basic("bob", "bob-password"), null, Cancel);

        Assert.AreEqual("alice", seen);
        Assert.AreEqual("bob", basic);
        Assert.IsFalse(gateway.Logs.Entries.Any(e => e.Message.Contains("alice-password", StringComparison.Ordinal) || e.Message.Contains("bob-password", StringComparison.Ordinal)), "a password must never be logged");
    }

    [TestMethod]
    public async Task WrongPassword_Unauthenticated()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        await using var gateway = await TestGateway.StartAsync(new TestGatewayOptions { Gateway = g => g.AddLdapAuthenticator(o => DnTemplate(o, slapd)) }, Cancel);

        var error = await gateway.CallExpectingErrorAsync(TestGateway.Bearer("wrong"), "alice", Cancel);

        Assert.AreEqual(StatusCode.Unauthenticated, error.StatusCode);
        Assert.AreEqual(LdapAuthenticator.InvalidCredentials, error.Status.Detail);
        Assert.IsEmpty(gateway.Engine.Calls);
    }

    [TestMethod]
    public async Task DnTemplate_UserNameWithComma_EscapedPerRfc4514()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        var ldap = Create(o => DnTemplate(o, slapd));

        var john = await ldap.AuthenticateAsync(TestCalls.Basic("smith, john", "john-password"), Cancel);
        var injected = await ldap.AuthenticateAsync(TestCalls.Basic("alice,ou=people", "alice-password"), Cancel);

        Assert.AreEqual(AuthenticationOutcome.Succeeded, john.Outcome);
        Assert.AreEqual("smith, john", john.Principal!.UserName);
        Assert.AreEqual(AuthenticationOutcome.Refused, injected.Outcome);
    }

    [TestMethod]
    public async Task EmptyPassword_Refused_NeverAnUnauthenticatedBind()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        var ldap = Create(o => DnTemplate(o, slapd));

        var result = await ldap.AuthenticateAsync(TestCalls.Basic("alice", ""), Cancel);

        Assert.AreEqual(AuthenticationOutcome.Refused, result.Outcome);
    }

    [TestMethod]
    public async Task SearchThenBind_ServiceAccount_GoodAndBadPassword_AndFilterInjection()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        var ldap = Create(o => SearchThenBind(o, slapd));

        var good = await ldap.AuthenticateAsync(TestCalls.UserAndToken("bob", "bob-password"), Cancel);
        var bad = await ldap.AuthenticateAsync(TestCalls.UserAndToken("bob", "alice-password"), Cancel);
        var wildcard = await ldap.AuthenticateAsync(TestCalls.UserAndToken("ali*", "alice-password"), Cancel);
        var unknown = await ldap.AuthenticateAsync(TestCalls.UserAndToken("nobody", "x"), Cancel);

        Assert.AreEqual(AuthenticationOutcome.Succeeded, good.Outcome);
        Assert.AreEqual("bob", good.Principal!.UserName);
        Assert.AreEqual(AuthenticationOutcome.Refused, bad.Outcome);
        Assert.AreEqual(AuthenticationOutcome.Refused, wildcard.Outcome, "'*' must be escaped, not match alice");
        Assert.AreEqual(AuthenticationOutcome.Refused, unknown.Outcome);
        Assert.AreEqual(bad.Reason, unknown.Reason, "an unknown user must look like a wrong password");
    }

    [TestMethod]
    public async Task SearchThenBind_UserNameAttribute_NormalizesCase()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        var ldap = Create(o =>
        {
            SearchThenBind(o, slapd);
            o.UserNameAttribute = "uid";
        });

        var result = await ldap.AuthenticateAsync(TestCalls.Basic("ALICE", "alice-password"), Cancel);

        Assert.AreEqual(AuthenticationOutcome.Succeeded, result.Outcome);
        Assert.AreEqual("alice", result.Principal!.UserName);
    }

    [TestMethod]
    public async Task SearchThenBind_WrongServiceAccountPassword_UnavailableNotRefused()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        var ldap = Create(o =>
        {
            SearchThenBind(o, slapd);
            o.ServiceAccountPassword = "not-the-password";
        });

        var result = await ldap.AuthenticateAsync(TestCalls.Basic("alice", "alice-password"), Cancel);

        Assert.AreEqual(AuthenticationOutcome.Unavailable, result.Outcome);
    }

    [TestMethod]
    public async Task GroupLookup_ReturnsUsersGroups()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        var asUser = Create(o =>
        {
            DnTemplate(o, slapd);
            o.GroupSearchBase = SlapdServer.GroupsDn;
        });
        var asService = Create(o =>
        {
            SearchThenBind(o, slapd);
            o.GroupSearchBase = SlapdServer.GroupsDn;
            o.GroupSearchFilter = "(&(objectClass=groupOfNames)(member={0}))";
        });

        var alice = await asUser.AuthenticateAsync(TestCalls.Basic("alice", "alice-password"), Cancel);
        var bob = await asService.AuthenticateAsync(TestCalls.Basic("bob", "bob-password"), Cancel);
        var john = await asService.AuthenticateAsync(TestCalls.Basic("smith, john", "john-password"), Cancel);

        CollectionAssert.AreEqual(new[] { "admins", "eng" }, alice.Principal!.Groups.ToArray());
        CollectionAssert.AreEqual(new[] { "eng" }, bob.Principal!.Groups.ToArray());
        Assert.IsEmpty(john.Principal!.Groups);
    }

    [TestMethod]
    public async Task BindCache_ServerStopped_CachedUserStillAuthenticated_NewUserUnavailable()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        var ldap = Create(o =>
        {
            DnTemplate(o, slapd);
            o.GroupSearchBase = SlapdServer.GroupsDn;
        });

        var first = await ldap.AuthenticateAsync(TestCalls.Basic("alice", "alice-password"), Cancel);
        await slapd.StopAsync();
        var cached = await ldap.AuthenticateAsync(TestCalls.UserAndToken("alice", "alice-password"), Cancel);
        var otherPassword = await ldap.AuthenticateAsync(TestCalls.Basic("alice", "guess"), Cancel);
        var bob = await ldap.AuthenticateAsync(TestCalls.Basic("bob", "bob-password"), Cancel);

        Assert.AreEqual(AuthenticationOutcome.Succeeded, first.Outcome);
        Assert.AreEqual(AuthenticationOutcome.Succeeded, cached.Outcome);
        CollectionAssert.AreEqual(new[] { "admins", "eng" }, cached.Principal!.Groups.ToArray());
        Assert.AreEqual(AuthenticationOutcome.Unavailable, otherPassword.Outcome, "a different password must miss the cache");
        Assert.AreEqual(AuthenticationOutcome.Unavailable, bob.Outcome);
        Assert.AreEqual("authentication service unreachable", bob.Reason);
    }

    [TestMethod]
    public async Task BindCache_Disabled_EveryCallBinds()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        var ldap = Create(o =>
        {
            DnTemplate(o, slapd);
            o.CacheDuration = TimeSpan.Zero;
        });

        var first = await ldap.AuthenticateAsync(TestCalls.Basic("alice", "alice-password"), Cancel);
        await slapd.StopAsync();
        var second = await ldap.AuthenticateAsync(TestCalls.Basic("alice", "alice-password"), Cancel);

        Assert.AreEqual(AuthenticationOutcome.Succeeded, first.Outcome);
        Assert.AreEqual(AuthenticationOutcome.Unavailable, second.Outcome);
    }

    [TestMethod]
    public async Task ServerDown_Unavailable_AuthenticationServiceUnreachable()
    {
        using var closed = new ClosedPort();
        await using var gateway = await TestGateway.StartAsync(new TestGatewayOptions
        {
            Gateway = g => g.AddLdapAuthenticator(o =>
            {
                o.Server = "127.0.0.1";
                o.Port = closed.Port;
                o.Security = LdapTransportSecurity.None;
                o.UserDnTemplate = "uid={0}," + SlapdServer.PeopleDn;
                o.Timeout = TimeSpan.FromSeconds(3);
            }),
        }, Cancel);

        var error = await gateway.CallExpectingErrorAsync(TestGateway.Bearer("alice-password"), "alice", Cancel);

        Assert.AreEqual(StatusCode.Unavailable, error.StatusCode);
        Assert.AreEqual("authentication service unreachable", error.Status.Detail);
        Assert.IsEmpty(gateway.Engine.Calls);
    }

    [TestMethod]
    public async Task NoCredential_NoResult()
    {
        var ldap = Create(o => o.UserDnTemplate = "uid={0},ou=people,dc=example,dc=org");

        var nothing = await ldap.AuthenticateAsync(TestCalls.Context(), Cancel);
        var tokenWithoutUser = await ldap.AuthenticateAsync(TestCalls.Context("Bearer abc"), Cancel);

        Assert.AreEqual(AuthenticationOutcome.NoResult, nothing.Outcome);
        Assert.AreEqual(AuthenticationOutcome.NoResult, tokenWithoutUser.Outcome);
    }

    [TestMethod]
    public void Validator_ListsEveryProblemWithItsKey()
    {
        var options = new LdapAuthenticationOptions { Port = 70000, ServiceAccountDn = "cn=reader", Timeout = TimeSpan.Zero, CacheDuration = TimeSpan.FromSeconds(-1) };

        var result = new LdapAuthenticationOptionsValidator().Validate(null, options);

        Assert.IsTrue(result.Failed);
        var failures = result.Failures!.ToList();
        foreach (var key in new[] { "Ldap:Server", "Ldap:Port", "Ldap:UserDnTemplate", "Ldap:ServiceAccountPassword", "Ldap:Timeout", "Ldap:CacheDuration" })
        {
            Assert.IsTrue(failures.Any(f => f.Contains(key, StringComparison.Ordinal)), $"no error names {key}: {string.Join(" | ", failures)}");
        }

        Assert.HasCount(6, failures);
    }

    [TestMethod]
    public void Escaping_FollowsRfc4514AndRfc4515()
    {
        Assert.AreEqual(@"smith\, john", LdapEscaping.EscapeDnValue("smith, john"));
        Assert.AreEqual(@"\#a\+b\;c\<d\>e\=f\""\\ \ ", LdapEscaping.EscapeDnValue("#a+b;c<d>e=f\"\\  "));
        Assert.AreEqual(@"\ x", LdapEscaping.EscapeDnValue(" x"));
        Assert.AreEqual(@"\2a\28uid=\29\5c\00", LdapEscaping.EscapeFilterValue("*(uid=)\\\0"));
    }

    [TestMethod]
    public async Task DroppedConnection_IsTriedOnceMore_AServerThatStaysAwayIsUnavailable()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        await using var dropsOnce = new DroppingTcpRelay(slapd.Port, dropFirst: 1);
        await using var dropsTwice = new DroppingTcpRelay(slapd.Port, dropFirst: 2);

        var recovered = await Create(o => { DnTemplate(o, slapd); o.Port = dropsOnce.Port; }).AuthenticateAsync(TestCalls.Basic("alice", "alice-password"), Cancel);
        var unavailable = await Create(o => { DnTemplate(o, slapd); o.Port = dropsTwice.Port; }).AuthenticateAsync(TestCalls.Basic("alice", "alice-password"), Cancel);

        Assert.AreEqual(AuthenticationOutcome.Succeeded, recovered.Outcome);
        Assert.AreEqual("alice", recovered.Principal!.UserName);
        Assert.AreEqual(2, dropsOnce.Accepted, "one dropped connection, one relayed");
        Assert.AreEqual(AuthenticationOutcome.Unavailable, unavailable.Outcome);
        Assert.AreEqual(2, dropsTwice.Accepted, "tried once more, not again and again");
    }

    private static void DnTemplate(LdapAuthenticationOptions o, SlapdServer slapd)
    {
        o.Server = "127.0.0.1";
        o.Port = slapd.Port;
        o.Security = LdapTransportSecurity.None;
        o.UserDnTemplate = "uid={0}," + SlapdServer.PeopleDn;
    }

    private static void SearchThenBind(LdapAuthenticationOptions o, SlapdServer slapd)
    {
        o.Server = "127.0.0.1";
        o.Port = slapd.Port;
        o.Security = LdapTransportSecurity.None;
        o.UserSearchBase = SlapdServer.PeopleDn;
        o.UserSearchFilter = "(&(objectClass=inetOrgPerson)(uid={0}))";
        o.ServiceAccountDn = SlapdServer.ReaderDn;
        o.ServiceAccountPassword = SlapdServer.ReaderPassword;
    }

    private static LdapAuthenticator Create(Action<LdapAuthenticationOptions> configure, CapturingLoggerProvider? logs = null)
    {
        var options = new LdapAuthenticationOptions();
        configure(options);
        var logger = logs is null ? (Microsoft.Extensions.Logging.ILogger<LdapAuthenticator>)NullLogger<LdapAuthenticator>.Instance : new ProviderLogger<LdapAuthenticator>(logs);
        return new LdapAuthenticator(Options.Create(options), TimeProvider.System, logger);
    }
}

/// <summary>An <see cref="Microsoft.Extensions.Logging.ILogger{T}"/> writing to one provider, for authenticators built by hand.</summary>
internal sealed class ProviderLogger<T>(Microsoft.Extensions.Logging.ILoggerProvider provider) : Microsoft.Extensions.Logging.ILogger<T>
{
    private readonly Microsoft.Extensions.Logging.ILogger _inner = provider.CreateLogger(typeof(T).FullName!);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => _inner.BeginScope(state);

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => _inner.IsEnabled(logLevel);

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => _inner.Log(logLevel, eventId, state, exception, formatter);
}
