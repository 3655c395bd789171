using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SparkConnect.Multiplexer.Authentication.Jwt;
using SparkConnect.Multiplexer.Authentication.Ldap;
using SparkConnect.Multiplexer.Authentication.Tests.Infrastructure;
using SparkConnect.Multiplexer.Authentication.Tests.Jwt;
using SparkConnect.Multiplexer.Authentication.Tests.Ldap;

namespace SparkConnect.Multiplexer.Authentication.Tests.Hosting;

[TestClass]
public sealed class AuthenticatorChainTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task JwtThenLdapThenStaticTokens_FirstThatRecognisesTheCredentialDecides()
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        await using var slapd = await SlapdServer.StartAsync(Cancel);
        await using var gateway = await TestGateway.StartAsync(new TestGatewayOptions
        {
            Gateway = g => g
                .AddJwtAuthenticator(o =>
                {
                    o.Issuers.Add(JwksServer.Issuer);
                    o.Audiences.Add(JwksServer.Audience);
                    o.JwksUrl = jwks.JwksUrl;
                    o.RequireHttpsJwksUrl = false;
                })
                .AddLdapAuthenticator(o =>
                {
                    o.Server = "127.0.0.1";
                    o.Port = slapd.Port;
                    o.Security = LdapTransportSecurity.None;
                    o.UserDnTemplate = "uid={0}," + SlapdServer.PeopleDn;
                }),
        }, Cancel);

        // A JWT decides even when the client also claims a user id (as PySpark always does).
        var jwtUser = await gateway.CallAsUserAsync(TestGateway.Bearer(key.CreateToken("carol")), "alice", Cancel);
        var ldapUser = await gateway.CallAsUserAsync(TestGateway.Bearer("alice-password"), "alice", Cancel);
        var staticUser = await gateway.CallAsUserAsync(TestGateway.Bearer(TestGateway.StaticToken), null, Cancel);
        var expiredJwt = await gateway.CallExpectingErrorAsync(TestGateway.Bearer(key.CreateToken("alice", expires: DateTime.UtcNow.AddHours(-1))), "alice", Cancel);
        var wrongPassword = await gateway.CallExpectingErrorAsync(TestGateway.Bearer("guess"), "alice", Cancel);

        Assert.AreEqual("carol", jwtUser);
        Assert.AreEqual("alice", ldapUser);
        Assert.AreEqual(TestGateway.StaticUser, staticUser);
        StringAssert.Contains(expiredJwt.Status.Detail, "token expired", "a refused JWT must not fall through to LDAP");
        Assert.AreEqual(LdapAuthenticator.InvalidCredentials, wrongPassword.Status.Detail);
        var order = gateway.Services.GetServices<IAuthenticator>().Select(a => a.GetType()).ToArray();
        CollectionAssert.AreEqual(new[] { typeof(JwtAuthenticator), typeof(LdapAuthenticator) }, order);
    }

    [TestMethod]
    public async Task AddingAnAuthenticatorTwice_RegistersItOnce_BothDelegatesApply()
    {
        using var key = TestKey.Ec("ec-1");
        await using var gateway = await TestGateway.StartAsync(new TestGatewayOptions
        {
            Gateway = g => g
                .AddJwtAuthenticator(o => o.Issuers.Add(JwksServer.Issuer))
                .AddJwtAuthenticator(o =>
                {
                    o.Audiences.Add(JwksServer.Audience);
                    o.SigningKeys.Add(key.PublicPem());
                }),
        }, Cancel);

        var seen = await gateway.CallAsUserAsync(TestGateway.Bearer(key.CreateToken("carol")), null, Cancel);

        Assert.AreEqual("carol", seen);
        Assert.AreEqual(1, gateway.Services.GetServices<IAuthenticator>().Count());
    }
}
