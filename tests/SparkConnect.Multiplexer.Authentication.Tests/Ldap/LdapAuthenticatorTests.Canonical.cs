using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Authentication.Ldap;
using SparkConnect.Multiplexer.Authentication.Tests.Infrastructure;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Authentication.Tests.Ldap;

// One person, one principal: however the client spells alice's name, the directory matches it loosely (uid is
// caseIgnoreMatch, and RFC 4518 string preparation folds width and insignificant spaces), so the principal must be
// the directory's name for the entry, or the call refused — never a second "alice" with its own engine and quota.
public sealed partial class LdapAuthenticatorTests
{
    /// <summary>Spellings the directory takes for alice (or that are not canonical and must be refused).</summary>
    private static readonly string[] AliceSpellings =
    [
        "alice",
        "ALICE",
        "Alice",
        "\uFF41lice", // full-width a
        "\uFF21\uFF2C\uFF29\uFF23\uFF25", // full-width ALICE
        " alice",
        "alice ",
        "alice  ",
        "\u00A0alice", // no-break space
        "alice\u3000", // ideographic space
        "al\u200Bice", // zero-width space, "mapped to nothing" by RFC 4518
        "alice\t",
        "\nalice",
        "a\u0000lice",
    ];

    [TestMethod]
    public async Task DnTemplate_DefaultOptions_EverySpellingOfAlice_RefusedOrExactlyAlice()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        await using var gateway = await TestGateway.StartAsync(new TestGatewayOptions { Gateway = g => g.AddLdapAuthenticator(o => DnTemplate(o, slapd)) }, Cancel);

        await AssertOnePrincipalAsync(gateway);
    }

    [TestMethod]
    public async Task SearchThenBind_DefaultOptions_EverySpellingOfAlice_RefusedOrExactlyAlice()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        await using var gateway = await TestGateway.StartAsync(new TestGatewayOptions { Gateway = g => g.AddLdapAuthenticator(o => SearchThenBind(o, slapd)) }, Cancel);

        await AssertOnePrincipalAsync(gateway);
    }

    [TestMethod]
    public async Task DnTemplate_OtherSpelling_PrincipalAndGroupsFromTheDirectory()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        var ldap = Create(o =>
        {
            DnTemplate(o, slapd);
            o.GroupSearchBase = SlapdServer.GroupsDn;
        });
        var byName = Create(o =>
        {
            DnTemplate(o, slapd);
            o.GroupSearchBase = SlapdServer.GroupsDn;
            o.GroupSearchFilter = "(&(objectClass=groupOfNames)(member=uid={1}," + SlapdServer.PeopleDn + "))";
        });

        var upper = await ldap.AuthenticateAsync(TestCalls.Basic("ALICE", "alice-password"), Cancel);
        var wide = await byName.AuthenticateAsync(TestCalls.UserAndToken("\uFF41lice", "alice-password"), Cancel);
        var john = await ldap.AuthenticateAsync(TestCalls.Basic("SMITH, JOHN", "john-password"), Cancel);

        Assert.AreEqual(AuthenticationOutcome.Succeeded, upper.Outcome);
        Assert.AreEqual("alice", upper.Principal!.UserName);
        CollectionAssert.AreEqual(new[] { "admins", "eng" }, upper.Principal.Groups.ToArray());
        Assert.AreEqual(AuthenticationOutcome.Succeeded, wide.Outcome, wide.Reason);
        Assert.AreEqual("alice", wide.Principal!.UserName);
        CollectionAssert.AreEqual(new[] { "admins", "eng" }, wide.Principal.Groups.ToArray(), "{1} in the group filter is the directory's name, not the client's spelling");
        Assert.AreEqual("smith, john", john.Principal!.UserName);
    }

    [TestMethod]
    public async Task SurroundingWhitespaceOrControlCharacters_RefusedBeforeTheDirectory_WithClearReason()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        var logs = new CapturingLoggerProvider();
        var ldap = Create(o => DnTemplate(o, slapd), logs);

        foreach (var user in new[] { " alice", "alice ", "\u00A0alice", "alice\t", "al\u0007ice", "al\u200Bice", "a\u0000lice", "alice\nLDAP authenticated admin", new string('a', 257) })
        {
            var result = await ldap.AuthenticateAsync(TestCalls.Basic(user, "alice-password"), Cancel);

            Assert.AreEqual(AuthenticationOutcome.Refused, result.Outcome, $"'{Uri.EscapeDataString(user)}'");
            Assert.AreEqual(LdapAuthenticator.NonCanonicalUserName, result.Reason, $"'{Uri.EscapeDataString(user)}'");
        }

        var refusals = logs.Entries.Select(e => e.Message).ToList();
        Assert.IsTrue(refusals.Contains("LDAP refused alice\\u000ALDAP authenticated admin from (null): " + LdapAuthenticator.NonCanonicalUserName), string.Join(" | ", refusals));
        Assert.IsFalse(refusals.Any(m => m.Any(c => char.IsControl(c))), "a client's control characters must not reach the log raw");
    }

    [TestMethod]
    public async Task UserNameAttribute_Configured_TakesThatAttribute_MissingAttributeRefusedAndLogged()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        var byCn = Create(o =>
        {
            DnTemplate(o, slapd);
            o.UserNameAttribute = "cn";
        });
        var logs = new CapturingLoggerProvider();
        var byMail = Create(
            o =>
            {
                SearchThenBind(o, slapd);
                o.UserNameAttribute = "mail";
            },
            logs);

        var cn = await byCn.AuthenticateAsync(TestCalls.Basic("alice", "alice-password"), Cancel);
        var noMail = await byMail.AuthenticateAsync(TestCalls.Basic("alice", "alice-password"), Cancel);

        Assert.AreEqual("Alice", cn.Principal!.UserName);
        Assert.AreEqual(AuthenticationOutcome.Refused, noMail.Outcome);
        Assert.IsTrue(logs.Entries.Any(e => e.Level == Microsoft.Extensions.Logging.LogLevel.Error && e.Message.Contains("'mail'", StringComparison.Ordinal) && e.Message.Contains("uid=alice", StringComparison.Ordinal)), "the operator must learn why alice was refused");
    }

    [TestMethod]
    public async Task UserNameAttribute_SeveralValues_RefusedAsAmbiguousAndLogged()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        var logs = new CapturingLoggerProvider();
        var search = Create(o => SearchThenBind(o, slapd), logs);
        var direct = Create(o => DnTemplate(o, slapd), logs);

        var bySecondUid = await search.AuthenticateAsync(TestCalls.Basic("carol2", "carol-password"), Cancel);
        var byFirstUid = await direct.AuthenticateAsync(TestCalls.Basic("carol", "carol-password"), Cancel);

        Assert.AreEqual(AuthenticationOutcome.Refused, bySecondUid.Outcome, "carol2 must not become a second principal for carol");
        Assert.AreEqual(AuthenticationOutcome.Refused, byFirstUid.Outcome);
        Assert.AreEqual(LdapAuthenticator.InvalidCredentials, byFirstUid.Reason);
        Assert.AreEqual(2, logs.Entries.Count(e => e.Level == Microsoft.Extensions.Logging.LogLevel.Error && e.Message.Contains("ambiguous", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task UserNameAttribute_EmptyOptsOut_ClientSpellingKept()
    {
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        var ldap = Create(o =>
        {
            DnTemplate(o, slapd);
            o.UserNameAttribute = "";
        });

        var result = await ldap.AuthenticateAsync(TestCalls.Basic("ALICE", "alice-password"), Cancel);

        Assert.AreEqual("ALICE", result.Principal!.UserName);
    }

    [TestMethod]
    public void Validator_UserNameAttribute_MustBeAnAttributeName_AnyBindMode()
    {
        var bad = new LdapAuthenticationOptions { Server = "ldap", UserDnTemplate = "uid={0},ou=people", UserNameAttribute = "uid)(cn=*" };
        var withTemplate = new LdapAuthenticationOptions { Server = "ldap", UserDnTemplate = "uid={0},ou=people", UserNameAttribute = "sAMAccountName" };
        var oid = new LdapAuthenticationOptions { Server = "ldap", UserSearchBase = "ou=people", UserNameAttribute = "0.9.2342.19200300.100.1.1" };

        var failures = new LdapAuthenticationOptionsValidator().Validate(null, bad).Failures?.ToList() ?? [];

        Assert.HasCount(1, failures);
        StringAssert.Contains(failures[0], "Ldap:UserNameAttribute");
        Assert.IsTrue(new LdapAuthenticationOptionsValidator().Validate(null, withTemplate).Succeeded, "the attribute is read with a direct bind too");
        Assert.IsTrue(new LdapAuthenticationOptionsValidator().Validate(null, oid).Succeeded);
        Assert.AreEqual("uid", new LdapAuthenticationOptions().UserNameAttribute, "the documented default");
    }

    private async Task AssertOnePrincipalAsync(TestGateway gateway)
    {
        var principals = new HashSet<string>(StringComparer.Ordinal);
        foreach (var spelling in AliceSpellings)
        {
            var label = Uri.EscapeDataString(spelling);
            foreach (var (headers, claimed) in new[] { (TestGateway.Bearer("alice-password"), spelling), (TestGateway.Basic(spelling, "alice-password"), (string?)null) })
            {
                try
                {
                    principals.Add(await gateway.CallAsUserAsync(headers, claimed, Cancel));
                }
                catch (RpcException e)
                {
                    Assert.AreEqual(StatusCode.Unauthenticated, e.StatusCode, $"'{label}': {e.Status.Detail}");
                }
            }
        }

        CollectionAssert.AreEquivalent(new[] { "alice" }, principals.ToArray(), "every spelling must be refused or be exactly alice: " + string.Join(", ", principals.Select(Uri.EscapeDataString)));
    }
}
