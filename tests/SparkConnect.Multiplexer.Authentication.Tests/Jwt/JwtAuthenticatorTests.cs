using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SparkConnect.Multiplexer.Authentication.Jwt;
using SparkConnect.Multiplexer.Authentication.Tests.Infrastructure;

using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Authentication.Tests.Jwt;

[TestClass]
public sealed partial class JwtAuthenticatorTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task ValidRsaToken_UserAndGroupsAccepted_UserReachesEngine()
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        await using var gateway = await StartGatewayAsync(jwks);
        var token = key.CreateToken("carol", ["eng", "ops"]);

        var seen = await gateway.CallAsUserAsync(TestGateway.Bearer(token), "mallory", Cancel);
        var direct = await Authenticator(gateway).AuthenticateAsync(TestCalls.Context("Bearer " + token), Cancel);

        Assert.AreEqual("carol", seen);
        Assert.AreEqual(AuthenticationOutcome.Succeeded, direct.Outcome);
        CollectionAssert.AreEqual(new[] { "eng", "ops" }, direct.Principal!.Groups.ToArray());
        Assert.IsFalse(gateway.Logs.Entries.Any(e => e.Message.Contains(token, StringComparison.Ordinal)), "the token must never be logged");
    }

    [TestMethod]
    public async Task ValidEcToken_Accepted()
    {
        using var key = TestKey.Ec("ec-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        await using var gateway = await StartGatewayAsync(jwks);

        var seen = await gateway.CallAsUserAsync(TestGateway.Bearer(key.CreateToken("dora")), null, Cancel);

        Assert.AreEqual("dora", seen);
    }

    [TestMethod]
    public async Task ConfiguredUserClaim_PreferredUsernameBecomesUser()
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        await using var gateway = await StartGatewayAsync(jwks, o => o.UserClaims.Add("preferred_username"));

        var seen = await gateway.CallAsUserAsync(TestGateway.Bearer(key.CreateToken("0b9f-uuid", extraClaims: new Dictionary<string, object> { ["preferred_username"] = "erin" })), null, Cancel);

        Assert.AreEqual("erin", seen);
    }

    [TestMethod]
    public async Task KeyRotation_TokenWithNewKid_RefetchesJwks()
    {
        using var oldKey = TestKey.Rsa("rsa-old");
        using var newKey = TestKey.Ec("ec-new");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(oldKey);
        await using var gateway = await StartGatewayAsync(jwks, o => o.JwksMinimumRefreshInterval = TimeSpan.Zero);

        var before = await gateway.CallAsUserAsync(TestGateway.Bearer(oldKey.CreateToken("carol")), null, Cancel);
        jwks.Publish(newKey);
        var after = await gateway.CallAsUserAsync(TestGateway.Bearer(newKey.CreateToken("dora")), null, Cancel);
        var cached = await gateway.CallAsUserAsync(TestGateway.Bearer(newKey.CreateToken("dora")), null, Cancel);

        Assert.AreEqual("carol", before);
        Assert.AreEqual("dora", after);
        Assert.AreEqual("dora", cached);
        Assert.AreEqual(2, jwks.Requests, "one fetch at first use, one for the new kid, none for a known kid");
    }

    [TestMethod]
    public async Task UnknownKid_WithinMinimumRefreshInterval_RefusedWithoutFetch_ThenAcceptedAfterIt()
    {
        using var first = TestKey.Rsa("rsa-1");
        using var second = TestKey.Rsa("rsa-2");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(first);

        // The gateway's clock, moved by the test: a slow machine cannot stretch the interval.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await StartGatewayAsync(jwks, o => o.JwksMinimumRefreshInterval = TimeSpan.FromSeconds(30), clock);

        await gateway.CallAsUserAsync(TestGateway.Bearer(first.CreateToken()), null, Cancel);
        jwks.Publish(first, second);
        clock.Advance(TimeSpan.FromSeconds(29));
        var tooSoon = await gateway.CallExpectingErrorAsync(TestGateway.Bearer(second.CreateToken()), null, Cancel);
        var tooSoonAgain = await gateway.CallExpectingErrorAsync(TestGateway.Bearer(second.CreateToken()), null, Cancel);
        var fetchesWhileLimited = jwks.Requests;
        clock.Advance(TimeSpan.FromSeconds(1));
        var later = await gateway.CallAsUserAsync(TestGateway.Bearer(second.CreateToken("dora")), null, Cancel);

        Assert.AreEqual(StatusCode.Unauthenticated, tooSoon.StatusCode);
        StringAssert.Contains(tooSoon.Status.Detail, "signing key not found");
        Assert.AreEqual(StatusCode.Unauthenticated, tooSoonAgain.StatusCode);
        Assert.AreEqual(1, fetchesWhileLimited, "unknown kids must not make the gateway fetch the JWKS again within the interval");
        Assert.AreEqual("dora", later);
        Assert.AreEqual(2, jwks.Requests);
    }

    [TestMethod]
    public async Task ExpiredToken_Unauthenticated_TokenExpired_TokenNotEchoed()
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        await using var gateway = await StartGatewayAsync(jwks, o => o.ClockSkew = TimeSpan.FromSeconds(30));
        var token = key.CreateToken(expires: DateTime.UtcNow.AddMinutes(-1));

        var error = await gateway.CallExpectingErrorAsync(TestGateway.Bearer(token), null, Cancel);

        Assert.AreEqual(StatusCode.Unauthenticated, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "token expired");
        Assert.IsFalse(error.Status.Detail.Contains(token, StringComparison.Ordinal));
        Assert.IsFalse(gateway.Logs.Entries.Any(e => e.Message.Contains(token, StringComparison.Ordinal)));
        Assert.IsEmpty(gateway.Engine.Calls);
    }

    [TestMethod]
    public async Task TokenExpiredWithinClockSkew_Accepted()
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        await using var gateway = await StartGatewayAsync(jwks, o => o.ClockSkew = TimeSpan.FromMinutes(5));

        var seen = await gateway.CallAsUserAsync(TestGateway.Bearer(key.CreateToken(expires: DateTime.UtcNow.AddMinutes(-1))), null, Cancel);

        Assert.AreEqual("carol", seen);
    }

    [TestMethod]
    public async Task WrongAudience_Unauthenticated()
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        await using var gateway = await StartGatewayAsync(jwks);

        var error = await gateway.CallExpectingErrorAsync(TestGateway.Bearer(key.CreateToken(audience: "some-other-app")), null, Cancel);

        Assert.AreEqual(StatusCode.Unauthenticated, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "wrong audience");
    }

    [TestMethod]
    public async Task WrongIssuer_Unauthenticated()
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        await using var gateway = await StartGatewayAsync(jwks);

        var error = await gateway.CallExpectingErrorAsync(TestGateway.Bearer(key.CreateToken(issuer: "https://evil.test/")), null, Cancel);

        Assert.AreEqual(StatusCode.Unauthenticated, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "wrong issuer");
    }

    [TestMethod]
    public async Task ForgedSignature_KnownKid_Unauthenticated_SignatureNotValid()
    {
        using var real = TestKey.Rsa("rsa-1");
        using var forger = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(real);
        await using var gateway = await StartGatewayAsync(jwks);

        var error = await gateway.CallExpectingErrorAsync(TestGateway.Bearer(forger.CreateToken()), null, Cancel);

        Assert.AreEqual(StatusCode.Unauthenticated, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "signature not valid");
    }

    [TestMethod]
    public async Task NonJwtBearer_FallsThroughToStaticToken()
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        await using var gateway = await StartGatewayAsync(jwks);

        var seen = await gateway.CallAsUserAsync(TestGateway.Bearer(TestGateway.StaticToken), null, Cancel);
        var unknown = await gateway.CallExpectingErrorAsync(TestGateway.Bearer("not.a-jwt"), null, Cancel);

        Assert.AreEqual(TestGateway.StaticUser, seen);
        Assert.AreEqual(StatusCode.Unauthenticated, unknown.StatusCode);
        Assert.AreEqual(0, jwks.Requests, "a non-JWT bearer must not make the gateway fetch keys");
    }

    [TestMethod]
    public async Task JwksUnreachable_NoCachedKeys_Unavailable()
    {
        using var key = TestKey.Rsa("rsa-1");
        using var closed = new ClosedPort();
        var nowhere = new Uri($"http://127.0.0.1:{closed.Port}/jwks");
        await using var gateway = await TestGateway.StartAsync(new TestGatewayOptions { Gateway = g => g.AddJwtAuthenticator(o => Configure(o, nowhere)) }, Cancel);

        var error = await gateway.CallExpectingErrorAsync(TestGateway.Bearer(key.CreateToken()), null, Cancel);

        Assert.AreEqual(StatusCode.Unavailable, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "authentication service unreachable");
    }

    [TestMethod]
    public async Task JwksDownAfterFetch_CachedKeysStillValidate()
    {
        using var key = TestKey.Rsa("rsa-1");
        using var unknown = TestKey.Rsa("rsa-2");
        var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        await using var gateway = await StartGatewayAsync(jwks, o => o.JwksMinimumRefreshInterval = TimeSpan.Zero);
        await gateway.CallAsUserAsync(TestGateway.Bearer(key.CreateToken()), null, Cancel);
        await jwks.DisposeAsync();

        var seen = await gateway.CallAsUserAsync(TestGateway.Bearer(key.CreateToken("dora")), null, Cancel);
        var unknownKid = await gateway.CallExpectingErrorAsync(TestGateway.Bearer(unknown.CreateToken()), null, Cancel);

        Assert.AreEqual("dora", seen);
        Assert.AreEqual(StatusCode.Unauthenticated, unknownKid.StatusCode);
    }

    [TestMethod]
    public async Task ConfiguredPemKey_ValidatesWithoutJwks()
    {
        using var key = TestKey.Ec("ec-1");
        await using var gateway = await TestGateway.StartAsync(new TestGatewayOptions
        {
            Gateway = g => g.AddJwtAuthenticator(o =>
            {
                o.Issuers.Add(JwksServer.Issuer);
                o.Audiences.Add(JwksServer.Audience);
                o.SigningKeys.Add(key.PublicPem());
            }),
        }, Cancel);

        var seen = await gateway.CallAsUserAsync(TestGateway.Bearer(key.CreateToken("frank")), null, Cancel);

        Assert.AreEqual("frank", seen);
    }

    [TestMethod]
    public async Task ConfiguredJwk_FromConfiguration_Validates()
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var gateway = await TestGateway.StartAsync(new TestGatewayOptions
        {
            Configuration = new Dictionary<string, string?>
            {
                ["SparkConnectGateway:Authentication:Jwt:Issuers:0"] = JwksServer.Issuer,
                ["SparkConnectGateway:Authentication:Jwt:Audiences:0"] = JwksServer.Audience,
                ["SparkConnectGateway:Authentication:Jwt:SigningKeys:0"] = System.Text.Json.JsonSerializer.Serialize(key.PublicJwk()),
            },
            Gateway = g => g.AddJwtAuthenticator(),
        }, Cancel);

        var seen = await gateway.CallAsUserAsync(TestGateway.Bearer(key.CreateToken("grace")), null, Cancel);

        Assert.AreEqual("grace", seen);
    }

    [TestMethod]
    public void Validator_EmptyOptions_ListsEveryProblemWithItsKey()
    {
        var options = new JwtAuthenticationOptions { JwksUrl = new Uri("http://idp.example/jwks"), JwksCacheDuration = TimeSpan.Zero };
        options.SigningKeys.Add("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----");

        var result = new JwtAuthenticationOptionsValidator().Validate(null, options);

        Assert.IsTrue(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.HasCount(5, failures);
        Assert.IsTrue(failures.Any(f => f.Contains("Jwt:Issuers", StringComparison.Ordinal)));
        Assert.IsTrue(failures.Any(f => f.Contains("Jwt:Audiences", StringComparison.Ordinal)));
        Assert.IsTrue(failures.Any(f => f.Contains("Jwt:RequireHttpsJwksUrl", StringComparison.Ordinal)));
        Assert.IsTrue(failures.Any(f => f.Contains("Jwt:SigningKeys:0", StringComparison.Ordinal)));
        Assert.IsTrue(failures.Any(f => f.Contains("Jwt:JwksCacheDuration", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task InvalidOptions_GatewayDoesNotStart()
    {
        var error = await Assert.ThrowsExactlyAsync<OptionsValidationException>(() =>
            TestGateway.StartAsync(new TestGatewayOptions { Gateway = g => g.AddJwtAuthenticator() }, Cancel));

        StringAssert.Contains(error.Message, "SparkConnectGateway:Authentication:Jwt:Issuers");
    }

    private static JwtAuthenticator Authenticator(TestGateway gateway)
        => gateway.Services.GetServices<IAuthenticator>().OfType<JwtAuthenticator>().Single();

    private static void Configure(JwtAuthenticationOptions o, Uri jwksUrl)
    {
        o.Issuers.Add(JwksServer.Issuer);
        o.Audiences.Add(JwksServer.Audience);
        o.JwksUrl = jwksUrl;
        o.RequireHttpsJwksUrl = false;
        o.JwksFetchTimeout = TimeSpan.FromSeconds(3);
    }

    private Task<TestGateway> StartGatewayAsync(JwksServer jwks, Action<JwtAuthenticationOptions>? configure = null, TimeProvider? clock = null)
        => TestGateway.StartAsync(new TestGatewayOptions
        {
            Services = clock is null ? null : s => s.AddSingleton(clock),
            Gateway = g => g.AddJwtAuthenticator(o =>
            {
                Configure(o, jwks.JwksUrl);
                configure?.Invoke(o);
            }),
        }, Cancel);
}
